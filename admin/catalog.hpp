#pragma once
// Plans, users and API keys as the admin sees them: validation, key generation, idempotent
// import.
// Answers in domain outcomes; only the transports (HTTP, rlctl) turn them into statuses.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "limiter/policy.hpp"
#include "storage/data_dir.hpp"

namespace rl::admin {

using storage::key_record;
using storage::plan_record;
using storage::user_record;

// The built-in plan: `1s:<--default-limit>`, never stored, never changed through the catalog.
using storage::default_plan;

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

// What a user is held to: a plan (stored, or "default"), or limits of their own.
struct user_terms {
    std::string plan;                       // empty: `limits`
    std::optional<limiter::policy> limits;  // the user's own

    static user_terms follow(std::string_view plan) { return {std::string(plan), std::nullopt}; }
    static user_terms own(limiter::policy limits) { return {{}, std::move(limits)}; }
};

struct import_row {
    std::string user;
    std::string key;
    std::optional<std::uint32_t> limit;     // own 1s:N
    std::optional<limiter::policy> limits;  // own limits (instead of `limit`)
    std::string plan;                       // follow this plan (instead of limits)
};

struct import_summary {
    std::size_t users_created = 0;
    std::size_t users_updated = 0;
    std::size_t keys_imported = 0;
    std::size_t keys_unchanged = 0;
    std::vector<std::pair<std::size_t, std::string>> errors;  // row index, reason
};

// One record of an export, as it is stored (key ids and hashes kept).
using catalog_record = std::variant<plan_record, user_record, key_record>;

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
    // Many users at once (a bulk import): one call, so the observer can follow them together.
    virtual void users_changed(const std::vector<user_record>& users) {
        for (const user_record& user : users) user_changed(user);
    }
    virtual void user_deleted(std::string_view name) = 0;
    virtual void key_changed(const key_record& key) = 0;
    virtual void plan_changed(const plan_record& plan) = 0;
    virtual void plan_deleted(std::string_view name) = 0;
};

inline constexpr std::uint32_t max_limit = 100000;

// A limit as text (--default-limit, RL_DEFAULT_LIMIT, an import file): digits only, from 1 to
// max_limit; "+5" and "5.0" are more likely typos than limits.
std::optional<std::uint32_t> parse_limit(std::string_view text) noexcept;

// The policy of the built-in plan.
limiter::policy default_policy(std::uint32_t default_limit);

// Stored policy text read back; nullopt when it does not parse (a corrupt record).
std::optional<limiter::policy> stored_policy(std::string_view text);

// The quota of the policy's 1s limit, if it has one (the `limit` field of a user's JSON).
std::optional<std::uint32_t> per_second_quota(const limiter::policy& policy) noexcept;

// One limit per sliding second standing for a whole policy, for a request path that enforces a
// single limit: the 1s quota; else the tightest sliding limit's rate per second (at least 1);
// else (calendar quotas only) the smallest quota, at most max_limit.
std::uint32_t single_limit(const limiter::policy& policy) noexcept;

// A policy from the strings of a JSON array or rlctl's repeated --limit ("N" = "1s:N").
limiter::parsed<limiter::policy> policy_of(const std::vector<std::string>& limits);

// A change to a user: new terms, enabled or disabled; what is absent stays.
struct user_change {
    std::optional<user_terms> terms;
    std::optional<bool> disabled;
};

class catalog_writer;

class catalog {
public:
    // One node: writes go to `store` (synced), then `observer` is told.
    catalog(storage::data_dir& store, std::uint32_t default_limit,
            catalog_observer* observer = nullptr);
    // Writes go through `writer` (etcd in cluster mode); `store` is the catalog read here.
    catalog(storage::data_dir& store, std::uint32_t default_limit, catalog_writer& writer);
    ~catalog();
    catalog(const catalog&) = delete;
    catalog& operator=(const catalog&) = delete;

    std::uint32_t default_limit() const noexcept { return default_limit_; }
    // The built-in plan "default" as a record (never stored; times 0).
    plan_record builtin_plan() const;

    // The user's own limits, else their plan's, else the built-in default's.
    limiter::policy effective_policy(const user_record& user) const;

    // Plans. Names follow the user-name rule; "default" is refused (conflict).
    result<plan_record> create_plan(std::string_view name, const limiter::policy& limits,
                                    bool shadow);
    result<plan_record> create_plan(std::string_view name, std::string_view limits, bool shadow);
    result<plan_record> update_plan(std::string_view name, std::optional<limiter::policy> limits,
                                    std::optional<bool> shadow);
    // Refused (conflict) while any user follows the plan.
    result<plan_record> delete_plan(std::string_view name);
    // A stored plan, or the built-in default.
    std::optional<plan_record> find_plan(std::string_view name) const;
    // A page of stored plans (the built-in one is not among them), in name order.
    std::vector<plan_record> list_plans(std::string_view after, std::size_t limit) const;
    // How many users follow the plan (a scan of every user).
    std::size_t followers(std::string_view plan) const;

    // A new user with `terms` (default: the built-in plan).
    result<user_record> create_user(std::string_view name, const user_terms& terms);
    // The single-limit form: own 1s:N, or the built-in plan when absent.
    result<user_record> create_user(std::string_view name, std::optional<std::uint32_t> limit);
    result<user_record> update_user(std::string_view name, const user_change& change);
    // The single-limit form: own 1s:N when given.
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

    // Writes exported records back in one synced write, all or none: a plan or a user is
    // created or overwritten (a user's plan must be stored or earlier in `records`); a key must
    // belong to a user stored or earlier in `records`, and may not take a hash or key id another
    // key holds. Writing the same records again changes nothing.
    std::optional<record_error> restore_records(const std::vector<catalog_record>& records);

    const storage::data_dir& store() const noexcept { return store_; }

private:
    static std::optional<std::string> check_limit(std::optional<std::uint32_t> limit);
    // Why the terms cannot be given (a missing plan, say); call inside a write turn.
    std::optional<result<user_record>> check_terms_locked(const user_terms& terms) const;
    void apply_terms(user_record& user, const user_terms& terms) const;

    storage::data_dir& store_;
    std::uint32_t default_limit_;
    std::unique_ptr<catalog_writer> own_writer_;  // the one-node constructor's local_writer
    catalog_writer& writer_;  // check-then-write happens inside one of its turns
};

}  // namespace rl::admin
