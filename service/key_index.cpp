#include "service/key_index.hpp"

#include <mutex>

namespace rl::service {

key_lookup key_index::find(const common::key_hash& hash, common::unix_seconds now) const {
    std::shared_lock lock(mutex_);
    const auto it = keys_.find(hash);
    if (it == keys_.end()) return {};
    const key_entry& entry = it->second;
    if (entry.expires_at != 0 && now >= entry.expires_at)
        return {key_status::expired, entry.key_id, nullptr};
    return {key_status::valid, entry.key_id, entry.user};
}

user_entry& key_index::user_locked(const std::string& name) {
    auto& slot = users_[name];
    if (!slot) {
        slot = std::make_unique<user_entry>();
        slot->id = static_cast<limiter::user_id>(users_.size());
        slot->name = name;
        slot->limit = default_limit_;
    }
    return *slot;
}

void key_index::apply_user_locked(const storage::user_record& user) {
    user_entry& entry = user_locked(user.name);
    entry.limit = user.limit != 0 ? user.limit : default_limit_;
    entry.disabled = user.disabled;
}

user_entry* key_index::apply_key_locked(const storage::key_record& key) {
    if (key.revoked_at != 0) {
        keys_.erase(key.hash);
        return nullptr;
    }
    user_entry* user = &user_locked(key.user);
    keys_[key.hash] = key_entry{key.key_id, user, key.expires_at};
    return user;
}

void key_index::load(
    const storage::store& store,
    const std::function<void(const storage::key_record&, const user_entry&)>& on_key) {
    const auto users = store.list_users();
    std::unique_lock lock(mutex_);
    // Sized up front: rehashing a million-entry table as it grows costs more than the load.
    users_.reserve(users.size());
    keys_.reserve(users.size());
    for (const auto& user : users) apply_user_locked(user);
    live_users_ = users.size();
    store.for_each_key([&](const storage::key_record& key) {
        const user_entry* user = apply_key_locked(key);
        if (user && on_key) on_key(key, *user);
    });
}

std::size_t key_index::key_count() const {
    std::shared_lock lock(mutex_);
    return keys_.size();
}

std::size_t key_index::user_count() const {
    std::shared_lock lock(mutex_);
    return live_users_;
}

void key_index::user_changed(const storage::user_record& user) {
    std::unique_lock lock(mutex_);
    const auto it = users_.find(user.name);
    // A user re-created after a delete gets their old entry back, and with it their window.
    if (it == users_.end() || it->second->deleted) ++live_users_;
    apply_user_locked(user);
    users_.at(user.name)->deleted = false;
}

void key_index::user_deleted(std::string_view name) {
    std::unique_lock lock(mutex_);
    const auto it = users_.find(std::string(name));
    if (it == users_.end()) return;
    user_entry* user = it->second.get();
    if (!user->deleted) --live_users_;
    user->deleted = true;
    for (auto k = keys_.begin(); k != keys_.end();) {
        if (k->second.user == user)
            k = keys_.erase(k);
        else
            ++k;
    }
}

void key_index::key_changed(const storage::key_record& key) {
    std::unique_lock lock(mutex_);
    apply_key_locked(key);
}

}  // namespace rl::service
