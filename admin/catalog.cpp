#include "admin/catalog.hpp"

#include <fmt/format.h>

#include <limits>
#include <unordered_map>

namespace rl::admin {

namespace {

template <typename T>
result<T> fail(outcome status, std::string message) {
    return result<T>{status, std::nullopt, std::move(message)};
}

std::string bad_name(std::string_view name) {
    return fmt::format("invalid user name '{}': use 1-64 of A-Z a-z 0-9 . _ @ -",
                       name.substr(0, 64));
}

bool label_ok(std::string_view label) {
    if (label.size() > 200) return false;
    for (unsigned char c : label)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

}  // namespace

// Nine digits cannot overflow.
std::optional<std::uint32_t> parse_limit(std::string_view text) noexcept {
    if (text.empty() || text.size() > 9) return std::nullopt;
    std::uint32_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (value < 1 || value > max_limit) return std::nullopt;
    return value;
}

catalog::catalog(storage::data_dir& store, std::uint32_t default_limit, catalog_observer* observer)
    : store_(store), default_limit_(default_limit), observer_(observer) {}

std::optional<std::string> catalog::check_limit(std::optional<std::uint32_t> limit) {
    if (limit && (*limit < 1 || *limit > max_limit))
        return fmt::format("limit must be between 1 and {}", max_limit);
    return std::nullopt;
}

void catalog::notify(const user_record& user) {
    if (observer_) observer_->user_changed(user);
}

void catalog::notify(const key_record& key) {
    if (observer_) observer_->key_changed(key);
}

result<user_record> catalog::create_user(std::string_view name,
                                         std::optional<std::uint32_t> limit) {
    if (!common::is_valid_user_name(name))
        return fail<user_record>(outcome::invalid, bad_name(name));
    if (auto why = check_limit(limit)) return fail<user_record>(outcome::invalid, *why);
    std::lock_guard lock(write_mutex_);
    if (store_.catalog().find_user(name))
        return fail<user_record>(outcome::already_exists,
                                 fmt::format("user '{}' already exists", name));
    user_record user{std::string(name), limit.value_or(0), false, common::wall_now()};
    store_.catalog().put_user(user);
    notify(user);
    return {outcome::created, user, {}};
}

result<user_record> catalog::update_user(std::string_view name, std::optional<std::uint32_t> limit,
                                         std::optional<bool> disabled) {
    if (auto why = check_limit(limit)) return fail<user_record>(outcome::invalid, *why);
    std::lock_guard lock(write_mutex_);
    auto user = store_.catalog().find_user(name);
    if (!user) return fail<user_record>(outcome::not_found, fmt::format("no user '{}'", name));
    if (limit) user->limit = *limit;
    if (disabled) user->disabled = *disabled;
    store_.catalog().put_user(*user);
    notify(*user);
    return {outcome::ok, user, {}};
}

result<user_record> catalog::delete_user(std::string_view name) {
    std::lock_guard lock(write_mutex_);
    auto user = store_.catalog().find_user(name);
    if (!user) return fail<user_record>(outcome::not_found, fmt::format("no user '{}'", name));
    store_.catalog().delete_user(name);
    if (observer_) observer_->user_deleted(name);
    return {outcome::ok, user, {}};
}

std::optional<user_record> catalog::find_user(std::string_view name) const {
    return store_.catalog().find_user(name);
}

std::vector<user_record> catalog::list_users() const {
    return store_.catalog().list_users();
}

std::vector<user_record> catalog::list_users(std::string_view after, std::size_t limit) const {
    return store_.catalog().list_users(after, limit);
}

result<created_key> catalog::create_key(std::string_view user, std::string_view label,
                                        common::unix_seconds expires_at) {
    if (!label_ok(label))
        return fail<created_key>(outcome::invalid, "label: at most 200 printable characters");
    const auto now = common::wall_now();
    if (expires_at != 0 && expires_at <= now)
        return fail<created_key>(outcome::invalid, "expiry must be in the future");
    std::lock_guard lock(write_mutex_);
    if (!store_.catalog().find_user(user))
        return fail<created_key>(outcome::not_found, fmt::format("no user '{}'", user));
    created_key created;
    created.key = common::generate_api_key(user);
    created.record = key_record{common::random_u64(),
                                common::sha256(created.key),
                                std::string(user),
                                std::string(label),
                                now,
                                expires_at,
                                0};
    store_.catalog().put_key(created.record);
    notify(created.record);
    return {outcome::created, std::move(created), {}};
}

result<key_record> catalog::import_key(std::string_view user, std::string_view key,
                                       std::string_view label) {
    if (!common::is_well_formed_key(key))
        return fail<key_record>(outcome::invalid,
                                "key must be 1-256 visible ASCII characters (no spaces)");
    if (!label_ok(label))
        return fail<key_record>(outcome::invalid, "label: at most 200 printable characters");
    std::lock_guard lock(write_mutex_);
    if (!store_.catalog().find_user(user))
        return fail<key_record>(outcome::not_found, fmt::format("no user '{}'", user));
    const auto hash = common::sha256(key);
    if (auto existing = store_.catalog().find_key(hash)) {
        if (existing->user != user)
            return fail<key_record>(outcome::conflict, "this key already belongs to another user");
        return {outcome::ok, existing, {}};
    }
    key_record record{common::random_u64(),
                      hash,
                      std::string(user),
                      std::string(label),
                      common::wall_now(),
                      0,
                      0};
    store_.catalog().put_key(record);
    notify(record);
    return {outcome::created, record, {}};
}

result<key_record> catalog::revoke_key(std::uint64_t key_id) {
    std::lock_guard lock(write_mutex_);
    auto key = store_.catalog().find_key_by_id(key_id);
    if (!key)
        return fail<key_record>(outcome::not_found,
                                fmt::format("no key '{}'", common::format_key_id(key_id)));
    if (key->revoked_at == 0) {
        key->revoked_at = common::wall_now();
        store_.catalog().put_key(*key);
        notify(*key);
    }
    return {outcome::ok, key, {}};
}

std::optional<key_record> catalog::find_key(std::uint64_t key_id) const {
    return store_.catalog().find_key_by_id(key_id);
}

result<std::vector<key_record>> catalog::list_keys(std::optional<std::string_view> user) const {
    return list_keys(user, 0, std::numeric_limits<std::size_t>::max());
}

result<std::vector<key_record>> catalog::list_keys(std::optional<std::string_view> user,
                                                   std::uint64_t after, std::size_t limit) const {
    if (user && !store_.catalog().find_user(*user))
        return fail<std::vector<key_record>>(outcome::not_found,
                                             fmt::format("no user '{}'", *user));
    return {outcome::ok, store_.catalog().list_keys(after, limit, user), {}};
}

import_summary catalog::import(const std::vector<import_row>& rows) {
    import_summary summary;
    storage::catalog_batch batch;
    std::unordered_map<std::string, std::size_t> batch_users;  // name -> index in batch.users
    std::unordered_map<std::string, std::string> batch_keys;   // hash bytes -> user
    const auto now = common::wall_now();

    std::lock_guard lock(write_mutex_);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const import_row& row = rows[i];
        if (!common::is_valid_user_name(row.user)) {
            summary.errors.emplace_back(i, bad_name(row.user));
            continue;
        }
        if (!common::is_well_formed_key(row.key)) {
            summary.errors.emplace_back(i, "key must be 1-256 visible ASCII characters");
            continue;
        }
        if (auto why = check_limit(row.limit)) {
            summary.errors.emplace_back(i, *why);
            continue;
        }
        const auto hash = common::sha256(row.key);
        const std::string hash_bytes(reinterpret_cast<const char*>(hash.data()), hash.size());
        std::optional<std::string> owner;
        if (auto it = batch_keys.find(hash_bytes); it != batch_keys.end())
            owner = it->second;
        else if (auto existing = store_.catalog().find_key(hash))
            owner = existing->user;
        if (owner && *owner != row.user) {
            summary.errors.emplace_back(i, "this key already belongs to another user");
            continue;
        }

        auto pending = batch_users.find(row.user);
        if (pending == batch_users.end()) {
            auto stored = store_.catalog().find_user(row.user);
            const bool create = !stored;
            const bool update = stored && row.limit && stored->limit != *row.limit;
            if (create) stored = user_record{row.user, row.limit.value_or(0), false, now};
            if (update) stored->limit = *row.limit;
            if (create || update) {
                pending = batch_users.emplace(row.user, batch.users.size()).first;
                batch.users.push_back(*stored);
                ++(create ? summary.users_created : summary.users_updated);
            }
        } else if (row.limit && batch.users[pending->second].limit != *row.limit) {
            batch.users[pending->second].limit = *row.limit;  // the last row for a user wins
        }

        if (owner) {
            ++summary.keys_unchanged;
            continue;
        }
        batch_keys.emplace(hash_bytes, row.user);
        batch.keys.push_back(
            key_record{common::random_u64(), hash, row.user, "imported", now, 0, 0});
        ++summary.keys_imported;
    }
    if (batch.users.empty() && batch.keys.empty()) return summary;
    store_.catalog().write(batch);
    for (const auto& user : batch.users) notify(user);
    for (const auto& key : batch.keys) notify(key);
    return summary;
}

std::optional<record_error> catalog::restore_records(const std::vector<catalog_record>& records) {
    storage::catalog_batch batch;
    std::unordered_map<std::string, bool> batch_users;
    std::unordered_map<std::uint64_t, common::key_hash> batch_ids;
    std::unordered_map<std::string, std::uint64_t> batch_hashes;  // hash bytes -> key id

    std::lock_guard lock(write_mutex_);
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (const auto* user = std::get_if<user_record>(&records[i])) {
            if (!common::is_valid_user_name(user->name))
                return record_error{i, bad_name(user->name)};
            if (user->limit != 0) {
                if (auto why = check_limit(user->limit)) return record_error{i, *why};
            }
            batch_users[user->name] = true;
            batch.users.push_back(*user);
            continue;
        }
        const auto& key = std::get<key_record>(records[i]);
        const std::string id = common::format_key_id(key.key_id);
        if (!label_ok(key.label))
            return record_error{i, "label: at most 200 characters, no control characters"};
        if (!batch_users.count(key.user) && !store_.catalog().find_user(key.user))
            return record_error{
                i, fmt::format("key {} belongs to user '{}', who is neither in the file before "
                               "it nor stored",
                               id, key.user)};
        const std::string hash_bytes(reinterpret_cast<const char*>(key.hash.data()),
                                     key.hash.size());
        std::optional<std::uint64_t> holder_of_hash;
        if (auto it = batch_hashes.find(hash_bytes); it != batch_hashes.end())
            holder_of_hash = it->second;
        else if (auto stored = store_.catalog().find_key(key.hash))
            holder_of_hash = stored->key_id;
        if (holder_of_hash && *holder_of_hash != key.key_id)
            return record_error{i, fmt::format("key {}: its hash is stored as key {}", id,
                                               common::format_key_id(*holder_of_hash))};
        std::optional<common::key_hash> hash_of_id;
        if (auto it = batch_ids.find(key.key_id); it != batch_ids.end())
            hash_of_id = it->second;
        else if (auto stored = store_.catalog().find_key_by_id(key.key_id))
            hash_of_id = stored->hash;
        if (hash_of_id && *hash_of_id != key.hash)
            return record_error{i, fmt::format("key id {} is stored with another hash", id)};
        batch_hashes[hash_bytes] = key.key_id;
        batch_ids[key.key_id] = key.hash;
        batch.keys.push_back(key);
    }
    if (batch.users.empty() && batch.keys.empty()) return std::nullopt;
    store_.catalog().write(batch);
    for (const auto& user : batch.users) notify(user);
    for (const auto& key : batch.keys) notify(key);
    return std::nullopt;
}

}  // namespace rl::admin
