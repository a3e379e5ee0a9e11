#pragma once
// Users and API keys as the admin sees them: validation, key generation, idempotent import.
// Answers in domain outcomes; only the transports (HTTP, rlctl) turn them into statuses.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "storage/data_dir.hpp"

namespace rl::admin {

using storage::key_record;
using storage::user_record;

enum class outcome { ok, created, not_found, already_exists, conflict, invalid };

template <typename T>
struct result {
    outcome status = outcome::ok;
    std::optional<T> value;
    std::string message;  // why, when status is not ok/created

    bool succeeded() const noexcept { return status == outcome::ok || status == outcome::created; }
};

// A freshly generated key: the only time its plain text exists.
struct created_key {
    key_record record;
    std::string key;
};

struct import_row {
    std::string user;
    std::string key;
    std::optional<std::uint32_t> limit;
};

struct import_summary {
    std::size_t users_created = 0;
    std::size_t users_updated = 0;
    std::size_t keys_imported = 0;
    std::size_t keys_unchanged = 0;
    std::vector<std::pair<std::size_t, std::string>> errors;  // row index, reason
};

// One record of an export, as it is stored (key ids and hashes kept).
using catalog_record = std::variant<user_record, key_record>;

// Why a chunk of records was refused as a whole: the first record at fault.
struct record_error {
    std::size_t index;
    std::string message;
};

// Told about every change once it is durable, so the server's in-memory view follows at once.
class catalog_observer {
public:
    virtual ~catalog_observer() = default;
    virtual void user_changed(const user_record& user) = 0;
    virtual void user_deleted(std::string_view name) = 0;
    virtual void key_changed(const key_record& key) = 0;
};

inline constexpr std::uint32_t max_limit = 100000;

// A limit as text (--default-limit, RL_DEFAULT_LIMIT, an import file): digits only, from 1 to
// max_limit; "+5" and "5.0" are more likely typos than limits.
std::optional<std::uint32_t> parse_limit(std::string_view text) noexcept;

// The limit that applies to a user: their own, or the default (stored as 0).
constexpr std::uint32_t effective_limit(const user_record& user,
                                        std::uint32_t default_limit) noexcept {
    return user.limit != 0 ? user.limit : default_limit;
}

class catalog {
public:
    catalog(storage::data_dir& store, std::uint32_t default_limit,
            catalog_observer* observer = nullptr);

    std::uint32_t default_limit() const noexcept { return default_limit_; }
    std::uint32_t effective_limit(const user_record& user) const noexcept {
        return admin::effective_limit(user, default_limit_);
    }

    result<user_record> create_user(std::string_view name, std::optional<std::uint32_t> limit);
    result<user_record> update_user(std::string_view name, std::optional<std::uint32_t> limit,
                                    std::optional<bool> disabled);
    result<user_record> delete_user(std::string_view name);
    std::optional<user_record> find_user(std::string_view name) const;
    std::vector<user_record> list_users() const;
    // A page: up to `limit` users named after `after`, in name order.
    std::vector<user_record> list_users(std::string_view after, std::size_t limit) const;

    result<created_key> create_key(std::string_view user, std::string_view label,
                                   common::unix_seconds expires_at);
    // Adopts an existing key. Importing the same key for the same user again changes nothing.
    result<key_record> import_key(std::string_view user, std::string_view key,
                                  std::string_view label);
    result<key_record> revoke_key(std::uint64_t key_id);
    std::optional<key_record> find_key(std::uint64_t key_id) const;
    // All keys, or one user's, in key_id order; not_found if the user does not exist.
    result<std::vector<key_record>> list_keys(std::optional<std::string_view> user) const;
    // A page of them: up to `limit` keys with ids above `after`.
    result<std::vector<key_record>> list_keys(std::optional<std::string_view> user,
                                              std::uint64_t after, std::size_t limit) const;

    // Bulk import in one synced write; rows that fail are reported and skipped.
    import_summary import(const std::vector<import_row>& rows);

    // Writes exported records back in one synced write, all or none: a user is created or
    // overwritten; a key must belong to a user stored or earlier in `records`, and may not
    // take a hash or key id another key holds. Writing the same records again changes nothing.
    std::optional<record_error> restore_records(const std::vector<catalog_record>& records);

    const storage::data_dir& store() const noexcept { return store_; }

private:
    static std::optional<std::string> check_limit(std::optional<std::uint32_t> limit);
    void notify(const user_record& user);
    void notify(const key_record& key);

    storage::data_dir& store_;
    std::uint32_t default_limit_;
    catalog_observer* observer_;
    std::mutex write_mutex_;  // check-then-write must not interleave
};

}  // namespace rl::admin
