#pragma once
// Every live API key and user, in memory, so /limit never reads the disk. Follows the catalog:
// admin changes land here the moment they are durable.

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "admin/catalog.hpp"
#include "limiter/sliding_window_limiter.hpp"

namespace rl::service {

struct user_entry {
    limiter::user_id id = 0;  // process-local; names the user's window in the limiter
    std::string name;
    std::atomic<std::uint32_t> limit{0};  // effective limit
    std::atomic<bool> disabled{false};
    bool deleted = false;  // guarded by the index's lock; never read on the request path
};

enum class key_status { valid, unknown, expired };

struct key_lookup {
    key_status status = key_status::unknown;
    std::uint64_t key_id = 0;
    const user_entry* user = nullptr;  // set when valid; lives as long as the index
};

class key_index final : public admin::catalog_observer {
public:
    explicit key_index(std::uint32_t default_limit) : default_limit_(default_limit) {}

    key_lookup find(const common::key_hash& hash, common::unix_seconds now) const;

    // Loads all users and live keys; `on_key` sees each loaded key with its user.
    void load(const storage::store& store,
              const std::function<void(const storage::key_record&, const user_entry&)>& on_key);

    std::size_t key_count() const;
    std::size_t user_count() const;

    void user_changed(const storage::user_record& user) override;
    void user_deleted(std::string_view name) override;
    void key_changed(const storage::key_record& key) override;

private:
    struct key_entry {
        std::uint64_t key_id;
        user_entry* user;
        common::unix_seconds expires_at;
    };
    // SHA-256 output is already uniform: its first bytes are a fine hash.
    struct hash_of_hash {
        std::size_t operator()(const common::key_hash& h) const noexcept {
            std::size_t v;
            std::memcpy(&v, h.data(), sizeof v);
            return v;
        }
    };

    user_entry& user_locked(const std::string& name);
    void apply_user_locked(const storage::user_record& user);
    user_entry* apply_key_locked(const storage::key_record& key);  // null: not live

    std::uint32_t default_limit_;
    mutable std::shared_mutex mutex_;
    // Entries are never freed while the process runs (deleted users keep theirs, emptied of
    // keys), so lookups can hand out plain pointers and a re-created user keeps its window.
    std::unordered_map<std::string, std::unique_ptr<user_entry>> users_;
    std::unordered_map<common::key_hash, key_entry, hash_of_hash> keys_;
    std::size_t live_users_ = 0;
};

}  // namespace rl::service
