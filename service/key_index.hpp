#pragma once
// Every live API key and user, in memory, so /limit never reads the disk. Follows the catalog:
// admin changes land here the moment they are durable.

#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "admin/catalog.hpp"
#include "common/flat_map.hpp"
#include "limiter/clock.hpp"
#include "service/terms.hpp"

namespace rl::service {

struct user_entry {
    limiter::user_id id = 0;  // process-local; names the user's window in the limiter
    std::string name;
    // Never null once the entry is made; its `plan` names the plan the user follows.
    std::atomic<const service::terms*> terms{nullptr};
    std::atomic<bool> disabled{false};
    std::uint32_t group = 0;  // cluster mode: the group that decides which node admits the user
    bool deleted = false;     // guarded by the index's lock; never read on the request path
};

// A user whose terms changed: what the limiter must reshape their windows for.
struct terms_change {
    limiter::user_id user = 0;
    const terms* before = nullptr;
    const terms* after = nullptr;
};

enum class key_status { valid, unknown, expired };

struct key_lookup {
    key_status status = key_status::unknown;
    std::uint64_t key_id = 0;
    const user_entry* user = nullptr;  // set when valid; lives as long as the index
};

class key_index final : public admin::catalog_observer {
public:
    // Told, after the change is in the index, of every user whose policy changed.
    using terms_listener = std::function<void(const std::vector<terms_change>&)>;

    // `default_limit`: the built-in plan "default", that many per 1 s.
    explicit key_index(std::uint32_t default_limit);

    key_lookup find(const common::key_hash& hash, common::unix_seconds now) const;

    // Cluster mode, before anything is loaded: users are placed in `groups` groups by name.
    void set_groups(std::uint32_t groups) { groups_ = groups; }

    // Loads all plans, users and live keys; `on_key` sees each loaded key with its user.
    void load(const storage::catalog_store& store,
              const std::function<void(const storage::key_record&, const user_entry&)>& on_key);

    void on_terms_changed(terms_listener listener) { listener_ = std::move(listener); }

    // The live keys of these users, as (key id, user) pairs.
    std::vector<std::pair<std::uint64_t, limiter::user_id>> keys_of(
        const std::vector<limiter::user_id>& users) const;
    // Cluster mode: the live users of one group, with their terms now.
    struct group_member {
        limiter::user_id id = 0;
        std::string name;
        const service::terms* terms = nullptr;
    };
    std::vector<group_member> users_of_group(std::uint32_t group) const;

    // The terms of a user by name (null when unknown): for tests and the admin side.
    const terms* terms_of(std::string_view user) const;

    std::size_t key_count() const;
    std::size_t user_count() const;
    // The highest user id handed out so far (ids are 1, 2, 3, ...; deleted users keep theirs).
    limiter::user_id last_user_id() const;

    void user_changed(const storage::user_record& user) override;
    void users_changed(const std::vector<storage::user_record>& users) override;
    void user_deleted(std::string_view name) override;
    void key_changed(const storage::key_record& key) override;
    void plan_changed(const storage::plan_record& plan) override;
    void plan_deleted(std::string_view name) override;

private:
    // The first 128 bits of the key's SHA-256: as unguessable as the key itself for lookups
    // (finding another key with the same prefix costs 2^128 hashes), and half the memory.
    struct digest {
        std::uint64_t a = 0, b = 0;
        bool operator==(const digest& o) const noexcept { return a == o.a && b == o.b; }
    };
    struct digest_hash {
        std::uint64_t operator()(const digest& d) const noexcept { return d.a; }
    };
    struct key_entry {
        std::uint64_t key_id = 0;
        user_entry* user = nullptr;
        std::uint32_t expires_at = 0;  // unix seconds, 0 = never (the format ends in 2106)
    };
    // Keys are split over shards, each with its own lock, so threads looking up different keys
    // do not bounce one lock's cache line between cores.
    static constexpr std::size_t key_shard_count = 16;
    struct alignas(64) key_shard {
        mutable std::shared_mutex mutex;
        common::flat_map<digest, key_entry, digest_hash> keys;
    };
    key_shard& shard_of(const digest& d) const noexcept {
        return key_shards_[d.b % key_shard_count];  // the table itself hashes on d.a
    }
    static digest digest_of(const common::key_hash& hash) noexcept;

    user_entry& user_locked(std::string_view name);
    const user_entry* find_user_locked(std::string_view name) const;
    user_entry* find_user_locked(std::string_view name);
    void place_name_locked(std::uint32_t index);
    // Sets the user's terms; returns the change, if the policy of a user known before changed
    // (a new user has no windows and no usage to carry over).
    std::optional<terms_change> apply_user_locked(const storage::user_record& user);
    void apply_plan_locked(const storage::plan_record& plan);
    const terms* terms_for_locked(const storage::user_record& user);
    void tell(const std::vector<terms_change>& changes) const;
    user_entry* apply_key_locked(const storage::key_record& key);  // null: not live

    std::uint32_t groups_ = 0;  // 0: one node, no groups
    terms_book book_;
    const terms* default_terms_;
    terms_listener listener_;
    // Guards plans_, users_ and user_slots_, and serialises writers; taken before a key shard's
    // lock.
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, const terms*> plans_;  // by name, "default" included
    // Kept compact because every key and user of a large install lives here (BENCHMARKS.md has
    // the footprint).
    // User entries are never freed while the process runs (deleted users keep theirs, emptied of
    // keys), so lookups can hand out plain pointers (a deque never moves its elements) and a
    // re-created user keeps their window.
    std::deque<user_entry> users_;
    // Open addressing by name, at most half full; a slot keeps the name's hash so probing past
    // other names needs no look at their entries.
    struct name_slot {
        std::uint32_t user = 0;  // index + 1, 0 = empty
        std::uint32_t hash = 0;
    };
    std::vector<name_slot> user_slots_;
    mutable std::array<key_shard, key_shard_count> key_shards_;
    std::size_t live_users_ = 0;
};

}  // namespace rl::service
