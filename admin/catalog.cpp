#include "admin/catalog.hpp"

#include "admin/catalog_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
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

std::string bad_plan_name(std::string_view name) {
    return fmt::format("invalid plan name '{}': use 1-64 of A-Z a-z 0-9 . _ @ -",
                       name.substr(0, 64));
}

std::string builtin_refused() {
    return fmt::format("the built-in plan '{}' is set by --default-limit", default_plan);
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

limiter::policy default_policy(std::uint32_t default_limit) {
    return limiter::policy{{limiter::sliding_limit(1, default_limit)}};
}

std::optional<limiter::policy> stored_policy(std::string_view text) {
    auto parsed = limiter::parse_policy(text);
    return parsed.value;
}

std::optional<std::uint32_t> per_second_quota(const limiter::policy& policy) noexcept {
    for (const auto& l : policy.limits)
        if (l.kind == limiter::window_kind::sliding && l.seconds == 1) return l.quota;
    return std::nullopt;
}

std::uint32_t single_limit(const limiter::policy& policy) noexcept {
    if (auto q = per_second_quota(policy)) return std::min(*q, max_limit);
    std::optional<std::uint32_t> tightest;
    for (const auto& l : policy.limits) {
        if (l.kind != limiter::window_kind::sliding) continue;
        const std::uint32_t rate = std::max<std::uint32_t>(1, l.quota / l.seconds);
        tightest = std::min(tightest.value_or(rate), rate);
    }
    if (tightest) return std::min(*tightest, max_limit);
    std::uint32_t smallest = max_limit;
    for (const auto& l : policy.limits) smallest = std::min(smallest, l.quota);
    return std::max<std::uint32_t>(1, smallest);
}

limiter::parsed<limiter::policy> policy_of(const std::vector<std::string>& limits) {
    std::vector<limiter::limit> parsed;
    for (const auto& text : limits) {
        auto one = limiter::parse_limit(text);
        if (!one) return {std::nullopt, one.error};
        parsed.push_back(*one.value);
    }
    return limiter::make_policy(std::move(parsed));
}

catalog::catalog(storage::data_dir& store, std::uint32_t default_limit, catalog_observer* observer)
    : store_(store),
      default_limit_(default_limit),
      own_writer_(std::make_unique<local_writer>(store.catalog(), observer)),
      writer_(*own_writer_) {}

catalog::catalog(storage::data_dir& store, std::uint32_t default_limit, catalog_writer& writer)
    : store_(store), default_limit_(default_limit), writer_(writer) {}

catalog::~catalog() = default;

std::optional<std::string> catalog::check_limit(std::optional<std::uint32_t> limit) {
    if (limit && (*limit < 1 || *limit > max_limit))
        return fmt::format("limit must be between 1 and {}", max_limit);
    return std::nullopt;
}

plan_record catalog::builtin_plan() const {
    return plan_record{std::string(default_plan),
                       limiter::to_string(default_policy(default_limit_)), false, 0, 0};
}

limiter::policy catalog::effective_policy(const user_record& user) const {
    if (!user.limits.empty()) {
        if (auto own = stored_policy(user.limits)) return *own;
    } else if (!user.plan.empty() && user.plan != default_plan) {
        if (auto plan = store_.catalog().find_plan(user.plan))
            if (auto limits = stored_policy(plan->limits)) return *limits;
    }
    return default_policy(default_limit_);
}

result<plan_record> catalog::create_plan(std::string_view name, std::string_view limits,
                                         bool shadow) {
    auto parsed = limiter::parse_policy(limits);
    if (!parsed) return fail<plan_record>(outcome::invalid, "limits: " + parsed.error);
    return create_plan(name, *parsed.value, shadow);
}

result<plan_record> catalog::create_plan(std::string_view name, const limiter::policy& limits,
                                         bool shadow) {
    if (name == default_plan) return fail<plan_record>(outcome::conflict, builtin_refused());
    if (!common::is_valid_user_name(name))
        return fail<plan_record>(outcome::invalid, bad_plan_name(name));
    // A policy built by hand gets the same checks as parsed text.
    auto checked = limiter::make_policy(limits.limits);
    if (!checked) return fail<plan_record>(outcome::invalid, "limits: " + checked.error);
    const auto turn = writer_.begin();
    if (store_.catalog().find_plan(name))
        return fail<plan_record>(outcome::already_exists,
                                 fmt::format("plan '{}' already exists", name));
    const auto now = common::wall_now();
    plan_record plan{std::string(name), limiter::to_string(*checked.value), shadow, now, now};
    writer_.put_plan(plan);
    return {outcome::created, plan, {}};
}

result<plan_record> catalog::update_plan(std::string_view name,
                                         std::optional<limiter::policy> limits,
                                         std::optional<bool> shadow) {
    if (name == default_plan) return fail<plan_record>(outcome::conflict, builtin_refused());
    std::optional<limiter::policy> checked;
    if (limits) {
        auto made = limiter::make_policy(limits->limits);
        if (!made) return fail<plan_record>(outcome::invalid, "limits: " + made.error);
        checked = std::move(made.value);
    }
    const auto turn = writer_.begin();
    auto plan = store_.catalog().find_plan(name);
    if (!plan) return fail<plan_record>(outcome::not_found, fmt::format("no plan '{}'", name));
    if (checked) plan->limits = limiter::to_string(*checked);
    if (shadow) plan->shadow = *shadow;
    plan->updated_at = common::wall_now();
    writer_.put_plan(*plan);
    return {outcome::ok, plan, {}};
}

result<plan_record> catalog::delete_plan(std::string_view name) {
    if (name == default_plan) return fail<plan_record>(outcome::conflict, builtin_refused());
    const auto turn = writer_.begin();
    auto plan = store_.catalog().find_plan(name);
    if (!plan) return fail<plan_record>(outcome::not_found, fmt::format("no plan '{}'", name));
    if (const auto n = store_.catalog().count_followers(name); n > 0)
        return fail<plan_record>(outcome::conflict,
                                 fmt::format("plan '{}' is followed by {} user{}; move them first",
                                             name, n, n == 1 ? "" : "s"));
    writer_.delete_plan(name);
    return {outcome::ok, plan, {}};
}

std::optional<plan_record> catalog::find_plan(std::string_view name) const {
    if (name == default_plan) return builtin_plan();
    return store_.catalog().find_plan(name);
}

std::vector<plan_record> catalog::list_plans(std::string_view after, std::size_t limit) const {
    return store_.catalog().list_plans(after, limit);
}

std::size_t catalog::followers(std::string_view plan) const {
    return store_.catalog().count_followers(plan);
}

std::optional<result<user_record>> catalog::check_terms_locked(const user_terms& terms) const {
    if (!terms.plan.empty() && terms.limits)
        return fail<user_record>(outcome::invalid,
                                 "give a plan or limits of the user's own, not both");
    if (terms.limits) {
        if (auto made = limiter::make_policy(terms.limits->limits); !made)
            return fail<user_record>(outcome::invalid, "limits: " + made.error);
    }
    if (!terms.plan.empty() && terms.plan != default_plan &&
        !store_.catalog().find_plan(terms.plan))
        return fail<user_record>(outcome::invalid, fmt::format("no plan '{}'", terms.plan));
    return std::nullopt;
}

void catalog::apply_terms(user_record& user, const user_terms& terms) const {
    if (terms.limits) {
        user.plan.clear();
        user.limits = limiter::to_string(*limiter::make_policy(terms.limits->limits).value);
    } else {
        user.plan = terms.plan.empty() ? std::string(default_plan) : terms.plan;
        user.limits.clear();
    }
}

result<user_record> catalog::create_user(std::string_view name, const user_terms& terms) {
    if (!common::is_valid_user_name(name))
        return fail<user_record>(outcome::invalid, bad_name(name));
    const auto turn = writer_.begin();
    if (auto refused = check_terms_locked(terms)) return *refused;
    if (store_.catalog().find_user(name))
        return fail<user_record>(outcome::already_exists,
                                 fmt::format("user '{}' already exists", name));
    user_record user{std::string(name), {}, {}, false, common::wall_now()};
    apply_terms(user, terms);
    writer_.put_user(user);
    return {outcome::created, user, {}};
}

result<user_record> catalog::create_user(std::string_view name,
                                         std::optional<std::uint32_t> limit) {
    if (auto why = check_limit(limit)) return fail<user_record>(outcome::invalid, *why);
    return create_user(name, limit ? user_terms::own({{limiter::sliding_limit(1, *limit)}})
                                   : user_terms::follow(default_plan));
}

result<user_record> catalog::update_user(std::string_view name, const user_change& change) {
    const auto turn = writer_.begin();
    if (change.terms)
        if (auto refused = check_terms_locked(*change.terms)) return *refused;
    auto user = store_.catalog().find_user(name);
    if (!user) return fail<user_record>(outcome::not_found, fmt::format("no user '{}'", name));
    if (change.terms) apply_terms(*user, *change.terms);
    if (change.disabled) user->disabled = *change.disabled;
    writer_.put_user(*user);
    return {outcome::ok, user, {}};
}

result<user_record> catalog::update_user(std::string_view name, std::optional<std::uint32_t> limit,
                                         std::optional<bool> disabled) {
    if (auto why = check_limit(limit)) return fail<user_record>(outcome::invalid, *why);
    user_change change;
    if (limit) change.terms = user_terms::own({{limiter::sliding_limit(1, *limit)}});
    change.disabled = disabled;
    return update_user(name, change);
}

result<user_record> catalog::delete_user(std::string_view name) {
    const auto turn = writer_.begin();
    auto user = store_.catalog().find_user(name);
    if (!user) return fail<user_record>(outcome::not_found, fmt::format("no user '{}'", name));
    writer_.delete_user(name);
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
    const auto turn = writer_.begin();
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
    writer_.put_key(created.record);
    return {outcome::created, std::move(created), {}};
}

result<key_record> catalog::import_key(std::string_view user, std::string_view key,
                                       std::string_view label) {
    if (!common::is_well_formed_key(key))
        return fail<key_record>(outcome::invalid,
                                "key must be 1-256 visible ASCII characters (no spaces)");
    if (!label_ok(label))
        return fail<key_record>(outcome::invalid, "label: at most 200 printable characters");
    const auto turn = writer_.begin();
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
    writer_.put_key(record);
    return {outcome::created, record, {}};
}

result<key_record> catalog::revoke_key(std::uint64_t key_id) {
    const auto turn = writer_.begin();
    auto key = store_.catalog().find_key_by_id(key_id);
    if (!key)
        return fail<key_record>(outcome::not_found,
                                fmt::format("no key '{}'", common::format_key_id(key_id)));
    if (key->revoked_at == 0) {
        key->revoked_at = common::wall_now();
        writer_.put_key(*key);
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

    const auto turn = writer_.begin();
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
        // The row's terms, if it gives any: a plan, its own limits, or a limit N (own 1s:N).
        std::optional<user_terms> terms;
        if (!row.plan.empty() && (row.limit || row.limits)) {
            summary.errors.emplace_back(i, "give a plan or limits, not both");
            continue;
        }
        if (!row.plan.empty()) terms = user_terms::follow(row.plan);
        if (row.limits) terms = user_terms::own(*row.limits);
        if (row.limit) terms = user_terms::own({{limiter::sliding_limit(1, *row.limit)}});
        if (terms) {
            if (auto refused = check_terms_locked(*terms)) {
                summary.errors.emplace_back(i, refused->message);
                continue;
            }
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

        auto same_terms = [](const user_record& a, const user_record& b) {
            return a.plan == b.plan && a.limits == b.limits;
        };
        auto pending = batch_users.find(row.user);
        if (pending == batch_users.end()) {
            auto stored = store_.catalog().find_user(row.user);
            const bool create = !stored;
            if (create) {
                stored = user_record{row.user, {}, {}, false, now};
                apply_terms(*stored, terms.value_or(user_terms::follow(default_plan)));
            }
            bool update = false;
            if (!create && terms) {
                user_record changed = *stored;
                apply_terms(changed, *terms);
                update = !same_terms(changed, *stored);
                *stored = std::move(changed);
            }
            if (create || update) {
                pending = batch_users.emplace(row.user, batch.users.size()).first;
                batch.users.push_back(*stored);
                ++(create ? summary.users_created : summary.users_updated);
            }
        } else if (terms) {
            apply_terms(batch.users[pending->second], *terms);  // the last row for a user wins
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
    writer_.write(batch);
    return summary;
}

std::optional<record_error> catalog::restore_records(const std::vector<catalog_record>& records) {
    storage::catalog_batch batch;
    std::unordered_map<std::string, bool> batch_users;
    std::unordered_map<std::string, bool> batch_plans;
    std::unordered_map<std::uint64_t, common::key_hash> batch_ids;
    std::unordered_map<std::string, std::uint64_t> batch_hashes;  // hash bytes -> key id

    const auto turn = writer_.begin();
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (const auto* plan = std::get_if<plan_record>(&records[i])) {
            if (plan->name == default_plan) return record_error{i, builtin_refused()};
            if (!common::is_valid_user_name(plan->name))
                return record_error{i, bad_plan_name(plan->name)};
            auto limits = limiter::parse_policy(plan->limits);
            if (!limits)
                return record_error{i, fmt::format("plan '{}': {}", plan->name, limits.error)};
            plan_record canonical = *plan;
            canonical.limits = limiter::to_string(*limits.value);
            batch_plans[plan->name] = true;
            batch.plans.push_back(std::move(canonical));
            continue;
        }
        if (const auto* user = std::get_if<user_record>(&records[i])) {
            if (!common::is_valid_user_name(user->name))
                return record_error{i, bad_name(user->name)};
            user_record canonical = *user;
            if (!user->plan.empty() && !user->limits.empty())
                return record_error{
                    i, fmt::format("user '{}': a plan or limits, not both", user->name)};
            if (!user->limits.empty()) {
                auto limits = limiter::parse_policy(user->limits);
                if (!limits)
                    return record_error{i, fmt::format("user '{}': {}", user->name, limits.error)};
                canonical.limits = limiter::to_string(*limits.value);
            } else if (user->plan.empty()) {
                canonical.plan = std::string(default_plan);
            } else if (user->plan != default_plan && !batch_plans.count(user->plan) &&
                       !store_.catalog().find_plan(user->plan)) {
                return record_error{
                    i, fmt::format("user '{}' follows plan '{}', which is neither in the file "
                                   "before it nor stored",
                                   user->name, user->plan)};
            }
            batch_users[user->name] = true;
            batch.users.push_back(std::move(canonical));
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
    if (batch.plans.empty() && batch.users.empty() && batch.keys.empty()) return std::nullopt;
    writer_.write(batch);
    return std::nullopt;
}

}  // namespace rl::admin
