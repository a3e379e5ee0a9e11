#pragma once
// Plans, users and their API keys (as SHA-256 only). Every write is synced before it returns;
// errors are storage_error.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"
#include "storage/storage_error.hpp"

namespace rl::storage {

class database;

// Plans, users and keys written together in one atomic, synced write (bulk import, restore).
struct catalog_batch {
    std::vector<plan_record> plans;
    std::vector<user_record> users;
    std::vector<key_record> keys;
};

// Changes made elsewhere (cluster mode: etcd, through its watch), written together with the
// revision they bring the catalog to. Puts are written first, then the deletes; a deleted user
// takes every key of theirs along, as delete_user does.
struct catalog_changes {
    std::vector<plan_record> plans;
    std::vector<user_record> users;
    std::vector<key_record> keys;
    std::vector<std::string> deleted_plans;
    std::vector<std::string> deleted_users;
    std::vector<key_hash> deleted_keys;

    bool empty() const noexcept {
        return plans.empty() && users.empty() && keys.empty() && deleted_plans.empty() &&
               deleted_users.empty() && deleted_keys.empty();
    }
};

class catalog_store {
public:
    explicit catalog_store(database& db) : db_(db) {}

    std::optional<user_record> find_user(std::string_view name) const;
    std::vector<user_record> list_users() const;  // in name order
    // Up to `limit` users whose names sort after `after` (all from the start when empty), in
    // name order; one seek, so a page costs the same wherever it starts.
    std::vector<user_record> list_users(std::string_view after, std::size_t limit) const;
    void put_user(const user_record& user);
    // Deletes the user and every key of theirs in one atomic write.
    void delete_user(std::string_view name);

    // Stored plans only: the built-in "default" is the catalog's, never stored.
    std::optional<plan_record> find_plan(std::string_view name) const;
    // Up to `limit` plans whose names sort after `after` (from the start when empty).
    std::vector<plan_record> list_plans(std::string_view after, std::size_t limit) const;
    void put_plan(const plan_record& plan);
    void delete_plan(std::string_view name);
    // How many users follow the plan (a scan of every user).
    std::size_t count_followers(std::string_view plan) const;

    std::optional<key_record> find_key(const key_hash& hash) const;
    std::optional<key_record> find_key_by_id(std::uint64_t key_id) const;
    void for_each_key(const std::function<void(const key_record&)>& visit) const;
    // Up to `limit` keys with ids above `after`, in key_id order, of one user when `user` is
    // given (the others are skipped over, not returned).
    std::vector<key_record> list_keys(std::uint64_t after, std::size_t limit,
                                      std::optional<std::string_view> user) const;
    void put_key(const key_record& key);

    // A page for export: at most `limit` keys after the given hash (from the first when null),
    // in hash order.
    std::vector<key_record> keys_after(const key_hash* after, std::size_t limit) const;

    void write(const catalog_batch& batch);

    // Cluster mode's cache of etcd's catalog. The revision the stored catalog holds every
    // change up to; 0 when none was ever written (one node, or a cache never loaded).
    std::int64_t revision() const;
    // `changes` and the revision in one synced write.
    void apply(const catalog_changes& changes, std::int64_t revision);
    // Every plan, user and key replaced by `batch`, with the revision, in one synced write.
    void replace_all(const catalog_batch& batch, std::int64_t revision);

private:
    database& db_;
};

}  // namespace rl::storage
