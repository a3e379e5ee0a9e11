#include "service/key_index.hpp"

#include "cluster/layout.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <utility>

namespace rl::service {

namespace {

std::uint32_t expiry_seconds(common::unix_seconds expires_at) {
    if (expires_at <= 0) return 0;
    return static_cast<std::uint32_t>(
        std::min<common::unix_seconds>(expires_at, std::numeric_limits<std::uint32_t>::max()));
}

std::uint64_t name_hash(std::string_view name) {
    return std::hash<std::string_view>{}(name);
}

}  // namespace

key_index::key_index(std::uint32_t default_limit)
    : default_terms_(book_.get(std::string(admin::default_plan),
                               admin::default_policy(default_limit), false)) {
    plans_.emplace(admin::default_plan, default_terms_);
}

key_index::digest key_index::digest_of(const common::key_hash& hash) noexcept {
    digest d;
    std::memcpy(&d.a, hash.data(), sizeof d.a);
    std::memcpy(&d.b, hash.data() + sizeof d.a, sizeof d.b);
    return d;
}

key_lookup key_index::find(const common::key_hash& hash, common::unix_seconds now) const {
    const digest d = digest_of(hash);
    const key_shard& shard = shard_of(d);
    // User entries never move or die, so the pointer stays good after the lock is released.
    std::shared_lock lock(shard.mutex);
    const key_entry* entry = shard.keys.find(d);
    if (!entry) return {};
    if (entry->expires_at != 0 && now >= entry->expires_at)
        return {key_status::expired, entry->key_id, nullptr};
    return {key_status::valid, entry->key_id, entry->user};
}

const user_entry* key_index::find_user_locked(std::string_view name) const {
    if (user_slots_.empty()) return nullptr;
    const std::uint64_t h = name_hash(name);
    for (std::size_t i = h % user_slots_.size();; i = (i + 1) % user_slots_.size()) {
        const name_slot& slot = user_slots_[i];
        if (slot.user == 0) return nullptr;
        if (slot.hash != static_cast<std::uint32_t>(h >> 32)) continue;
        const user_entry& user = users_[slot.user - 1];
        if (user.name == name) return &user;
    }
}

user_entry* key_index::find_user_locked(std::string_view name) {
    // The entries are the index's own; only the lookup is shared with the const overload.
    return const_cast<user_entry*>(std::as_const(*this).find_user_locked(name));
}

void key_index::place_name_locked(std::uint32_t index) {
    const std::uint64_t h = name_hash(users_[index].name);
    std::size_t i = h % user_slots_.size();
    while (user_slots_[i].user != 0) i = (i + 1) % user_slots_.size();
    user_slots_[i] = {index + 1, static_cast<std::uint32_t>(h >> 32)};
}

user_entry& key_index::user_locked(std::string_view name) {
    if (user_entry* found = find_user_locked(name)) return *found;
    // Insert-only (entries are never freed), so the name slots need no deletion scheme.
    if ((users_.size() + 1) * 2 > user_slots_.size()) {
        user_slots_.assign(std::max<std::size_t>(16, (users_.size() + 1) * 4), name_slot{});
        for (std::uint32_t n = 0; n < users_.size(); ++n) place_name_locked(n);
    }
    user_entry& user = users_.emplace_back();
    user.id = static_cast<limiter::user_id>(users_.size());
    user.name = name;
    user.terms = default_terms_;
    if (groups_ != 0) user.group = cluster::layout::group_of_user(name, groups_);
    place_name_locked(user.id - 1);
    return user;
}

// A plan the index does not know (it cannot be stored so) or own limits that do not parse
// (neither can they) fall back to the default plan rather than to no limit.
const terms* key_index::terms_for_locked(const storage::user_record& user) {
    if (!user.plan.empty()) {
        const auto it = plans_.find(user.plan);
        return it != plans_.end() ? it->second : default_terms_;
    }
    const auto own = admin::stored_policy(user.limits);
    return own ? book_.get({}, *own, false) : default_terms_;
}

std::optional<terms_change> key_index::apply_user_locked(const storage::user_record& user) {
    user_entry& entry = user_locked(user.name);
    const terms* before = entry.terms.load(std::memory_order_relaxed);
    const terms* after = terms_for_locked(user);
    entry.terms.store(after, std::memory_order_release);
    entry.disabled = user.disabled;
    if (before->policy == after->policy) return std::nullopt;
    return terms_change{entry.id, before, after};
}

void key_index::apply_plan_locked(const storage::plan_record& plan) {
    const auto policy = admin::stored_policy(plan.limits);
    if (!policy) return;  // the catalog stores only valid policies
    plans_[plan.name] = book_.get(plan.name, *policy, plan.shadow);
}

void key_index::tell(const std::vector<terms_change>& changes) const {
    if (listener_ && !changes.empty()) listener_(changes);
}

user_entry* key_index::apply_key_locked(const storage::key_record& key) {
    const digest d = digest_of(key.hash);
    key_shard& shard = shard_of(d);
    if (key.revoked_at != 0) {
        std::unique_lock lock(shard.mutex);
        shard.keys.erase(d);
        return nullptr;
    }
    user_entry& user = user_locked(key.user);
    std::unique_lock lock(shard.mutex);
    shard.keys[d] = key_entry{key.key_id, &user, expiry_seconds(key.expires_at)};
    return &user;
}

void key_index::load(
    const storage::catalog_store& store,
    const std::function<void(const storage::key_record&, const user_entry&)>& on_key) {
    const auto plans = store.list_plans({}, std::numeric_limits<std::size_t>::max());
    const auto users = store.list_users();
    std::unique_lock lock(mutex_);
    for (const auto& plan : plans) apply_plan_locked(plan);
    // Sized up front: rehashing a million-entry table as it grows costs more than the load.
    user_slots_.assign(users.size() * 2 + 16, name_slot{});
    for (key_shard& shard : key_shards_) shard.keys.reserve(users.size() / key_shard_count + 16);
    for (const auto& user : users) apply_user_locked(user);
    live_users_ = users.size();
    store.for_each_key([&](const storage::key_record& key) {
        const user_entry* user = apply_key_locked(key);
        if (user && on_key) on_key(key, *user);
    });
}

std::size_t key_index::key_count() const {
    std::size_t n = 0;
    for (const key_shard& shard : key_shards_) {
        std::shared_lock lock(shard.mutex);
        n += shard.keys.size();
    }
    return n;
}

std::size_t key_index::user_count() const {
    std::shared_lock lock(mutex_);
    return live_users_;
}

limiter::user_id key_index::last_user_id() const {
    std::shared_lock lock(mutex_);
    return static_cast<limiter::user_id>(users_.size());
}

std::vector<std::pair<std::uint64_t, limiter::user_id>> key_index::keys_of(
    const std::vector<limiter::user_id>& users) const {
    std::vector<std::pair<std::uint64_t, limiter::user_id>> found;
    if (users.empty()) return found;
    const limiter::user_id last = *std::max_element(users.begin(), users.end());
    std::vector<bool> wanted(last + 1, false);
    for (limiter::user_id u : users) wanted[u] = true;
    for (const key_shard& shard : key_shards_) {
        std::shared_lock lock(shard.mutex);
        shard.keys.for_each([&](const digest&, const key_entry& key) {
            if (key.user->id <= last && wanted[key.user->id])
                found.emplace_back(key.key_id, key.user->id);
        });
    }
    return found;
}

std::vector<key_index::group_member> key_index::users_of_group(std::uint32_t group) const {
    std::vector<group_member> found;
    std::shared_lock lock(mutex_);
    for (const user_entry& user : users_)
        if (!user.deleted && user.group == group)
            found.push_back({user.id, user.name, user.terms.load(std::memory_order_acquire)});
    return found;
}

const terms* key_index::terms_of(std::string_view user) const {
    std::shared_lock lock(mutex_);
    const user_entry* entry = find_user_locked(user);
    return entry && !entry->deleted ? entry->terms.load() : nullptr;
}

void key_index::user_changed(const storage::user_record& user) {
    users_changed({user});
}

void key_index::users_changed(const std::vector<storage::user_record>& users) {
    std::vector<terms_change> changes;
    {
        std::unique_lock lock(mutex_);
        for (const storage::user_record& user : users) {
            const user_entry* known = find_user_locked(user.name);
            // A user re-created after a delete gets their old entry back, and with it their
            // window.
            if (!known || known->deleted) ++live_users_;
            auto change = apply_user_locked(user);
            if (change && known) changes.push_back(*change);
            find_user_locked(user.name)->deleted = false;
        }
    }
    tell(changes);
}

void key_index::plan_changed(const storage::plan_record& plan) {
    std::vector<terms_change> changes;
    {
        std::unique_lock lock(mutex_);
        apply_plan_locked(plan);
        const auto it = plans_.find(plan.name);
        if (it == plans_.end()) return;
        for (user_entry& user : users_) {
            const terms* before = user.terms.load(std::memory_order_relaxed);
            if (user.deleted || before->plan != plan.name) continue;
            user.terms.store(it->second, std::memory_order_release);
            if (before->policy != it->second->policy)
                changes.push_back({user.id, before, it->second});
        }
    }
    tell(changes);
}

void key_index::plan_deleted(std::string_view name) {
    // Refused by the catalog while anyone follows the plan, so no user points at it.
    std::unique_lock lock(mutex_);
    if (name != admin::default_plan) plans_.erase(std::string(name));
}

void key_index::user_deleted(std::string_view name) {
    std::unique_lock lock(mutex_);
    user_entry* user = find_user_locked(name);
    if (!user) return;
    if (!user->deleted) --live_users_;
    user->deleted = true;
    for (key_shard& shard : key_shards_) {
        std::unique_lock shard_lock(shard.mutex);
        shard.keys.erase_if(
            [user](const digest&, const key_entry& key) { return key.user == user; });
    }
}

void key_index::key_changed(const storage::key_record& key) {
    std::unique_lock lock(mutex_);
    apply_key_locked(key);
}

}  // namespace rl::service
