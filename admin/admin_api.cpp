#include "admin/admin_api.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "admin/paging.hpp"
#include "admin/usage_report.hpp"
#include "common/problem.hpp"
#include "common/url.hpp"

namespace rl::admin {

namespace {

using nlohmann::json;

// Thrown inside dispatch for bad input; turned into a 400 problem at the top.
struct bad_request {
    std::string detail;
};

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        if (end > start) parts.push_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

json parse_body(const api_request& request) {
    if (request.body.empty()) return json::object();
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        throw bad_request{"the request body must be a JSON object"};
    return body;
}

std::string string_field(const json& body, const char* name, bool required = false) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) {
        if (required) throw bad_request{fmt::format("missing field '{}'", name)};
        return {};
    }
    if (!it->is_string()) throw bad_request{fmt::format("field '{}' must be a string", name)};
    return it->get<std::string>();
}

const json& array_field(const json& body, const char* name, const char* of) {
    auto it = body.find(name);
    if (it == body.end() || !it->is_array())
        throw bad_request{fmt::format("field '{}' must be an array of {}", name, of)};
    return *it;
}

std::optional<std::uint32_t> limit_field(const json& body, const char* name = "limit") {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max())
        throw bad_request{
            fmt::format("field '{}' must be a whole number from 1 to {}", name, max_limit)};
    return it->get<std::uint32_t>();
}

// A policy given as an array of limits (["1s:10","1m:300"]) or as text ("1s:10,1m:300");
// nullopt when the field is absent.
std::optional<limiter::policy> limits_field(const json& body, const char* name = "limits") {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::nullopt;
    limiter::parsed<limiter::policy> parsed;
    if (it->is_string()) {
        parsed = limiter::parse_policy(it->get<std::string>());
    } else if (it->is_array()) {
        std::vector<std::string> texts;
        for (const auto& one : *it) {
            if (!one.is_string())
                throw bad_request{
                    fmt::format("field '{}': each limit is a string like \"1m:300\"", name)};
            texts.push_back(one.get<std::string>());
        }
        parsed = policy_of(texts);
    } else {
        throw bad_request{fmt::format(
            "field '{}' must be an array of limits like [\"1s:10\",\"1m:300\"] or text like "
            "\"1s:10,1m:300\"",
            name)};
    }
    if (!parsed) throw bad_request{fmt::format("{}: {}", name, parsed.error)};
    return std::move(*parsed.value);
}

// A user's terms from `plan`, `limits` or `limit` (N: own 1s:N), at most one of them.
std::optional<user_terms> terms_field(const json& body) {
    const std::string plan = string_field(body, "plan");
    auto limits = limits_field(body);
    const auto limit = limit_field(body);
    if (int(!plan.empty()) + int(limits.has_value()) + int(limit.has_value()) > 1)
        throw bad_request{"give one of plan, limits and limit"};
    if (!plan.empty()) return user_terms::follow(plan);
    if (limits) return user_terms::own(std::move(*limits));
    if (limit) {
        if (*limit < 1 || *limit > max_limit)
            throw bad_request{fmt::format("limit must be between 1 and {}", max_limit)};
        return user_terms::own({{limiter::sliding_limit(1, *limit)}});
    }
    return std::nullopt;
}

std::optional<bool> bool_field(const json& body, const char* name) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) throw bad_request{fmt::format("field '{}' must be true or false", name)};
    return it->get<bool>();
}

std::optional<std::string> query_param(const api_request& request, const char* name) {
    auto it = request.query.find(name);
    if (it == request.query.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

std::uint64_t key_id_or_throw(const std::string& text) {
    auto id = common::parse_key_id(text);
    if (!id) throw bad_request{"a key id is 16 lowercase hex digits"};
    return *id;
}

json rfc3339_or_null(common::unix_seconds t) {
    return t == 0 ? json(nullptr) : json(common::format_rfc3339(t));
}

// Maps a catalog outcome to a status; the success body is built by the caller.
template <typename T>
std::optional<api_response> failure(const result<T>& r) {
    switch (r.status) {
        case outcome::ok:
        case outcome::created: return std::nullopt;
        case outcome::not_found:
            return api_response{404, problem(404, "not-found", "Not found", r.message)};
        case outcome::already_exists:
        case outcome::conflict:
            return api_response{409, problem(409, "conflict", "Conflict", r.message)};
        case outcome::invalid: break;
    }
    return api_response{400, problem(400, "invalid-request", "Invalid request", r.message)};
}

int success_status(outcome status) {
    return status == outcome::created ? 201 : 200;
}

common::unix_seconds parse_expiry(const std::string& text, common::unix_seconds now) {
    if (text.empty()) return 0;
    if (auto d = common::parse_duration(text)) return now + d->count();
    if (auto t = common::parse_rfc3339(text)) return *t;
    throw bad_request{"expires: use a duration like 30d or an RFC 3339 time"};
}

// The range of a usage request (since, default 1h; until, default now), planned over what the
// store holds.
usage_plan plan_or_throw(const storage::data_dir& store, const api_request& request,
                         common::unix_seconds now, std::int64_t step) {
    const auto since = common::parse_time_point(query_param(request, "since").value_or("1h"), now);
    const auto until = common::parse_time_point(query_param(request, "until").value_or("now"), now);
    if (!since) throw bad_request{"since: use a duration like 1h or an RFC 3339 time"};
    if (!until) throw bad_request{"until: use 'now', a duration like 10m or an RFC 3339 time"};
    if (*since > *until) throw bad_request{"since is after until"};
    auto plan = plan_usage(coverages_of(store), *since, *until, step);
    if (auto* error = std::get_if<std::string>(&plan)) throw bad_request{*error};
    return std::get<usage_plan>(std::move(plan));
}

std::uint64_t admitted_of(const storage::usage_count& count) {
    return count.admitted;
}

std::uint64_t rejected_of(const storage::usage_count& count) {
    return count.limited;
}

std::uint64_t shadow_limited_of(const storage::usage_count& count) {
    return count.shadow_limited;
}

// "allowed" and "rejected" are the names scripts already read; shadow_limited requests were
// answered 200 in shadow mode and are in neither.
json counts_json(const storage::usage_count& count) {
    return json{{"allowed", admitted_of(count)},
                {"rejected", rejected_of(count)},
                {"shadow_limited", shadow_limited_of(count)}};
}

// The first `limit` users with some of `of`, most first (ties: more admitted, then by name).
json heaviest(std::vector<user_usage> users, std::size_t limit,
              std::uint64_t (*of)(const storage::usage_count&)) {
    std::stable_sort(users.begin(), users.end(), [&](const user_usage& a, const user_usage& b) {
        return of(a.count) > of(b.count);
    });
    json rows = json::array();
    for (const auto& u : users) {
        if (rows.size() == limit || of(u.count) == 0) break;
        json row = counts_json(u.count);
        row["user"] = u.user;
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace

std::optional<api_request> parse_api_request(std::string method, std::string_view path,
                                             std::string_view query, std::string body) {
    api_request request;
    request.method = std::move(method);
    auto decoded_path = common::percent_decode(path);
    if (!decoded_path) return std::nullopt;
    request.path = std::move(*decoded_path);
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        auto name = common::percent_decode(pair.substr(0, eq));
        auto value = common::percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                                         : pair.substr(eq + 1));
        if (!name || !value) return std::nullopt;
        request.query[std::move(*name)] = std::move(*value);
    }
    request.body = std::move(body);
    return request;
}

json problem(int status, std::string_view type, std::string_view title, std::string_view detail) {
    return json{{"type", fmt::format("{}{}", common::problem_type_prefix, type)},
                {"title", title},
                {"status", status},
                {"detail", detail}};
}

json limits_json(const limiter::policy& policy) {
    json out = json::array();
    for (const auto& l : policy.limits) out.push_back(limiter::to_string(l));
    return out;
}

json limits_json(std::string_view text) {
    auto policy = stored_policy(text);
    return policy ? limits_json(*policy) : json::array();
}

json to_json(const plan_record& plan, std::optional<std::size_t> users) {
    json out{{"name", plan.name},
             {"limits", limits_json(plan.limits)},
             {"shadow", plan.shadow},
             {"builtin", plan.name == default_plan},
             {"created_at", rfc3339_or_null(plan.created_at)},
             {"updated_at", rfc3339_or_null(plan.updated_at)}};
    if (users) out["users"] = *users;
    return out;
}

json to_json(const user_record& user, const catalog& catalog) {
    const auto policy = catalog.effective_policy(user);
    const auto per_second = per_second_quota(policy);
    return json{{"name", user.name},
                {"plan", user.plan.empty() ? json(nullptr) : json(user.plan)},
                {"limits", limits_json(policy)},
                {"limit", per_second ? json(*per_second) : json(nullptr)},
                {"default_limit", user.plan == default_plan},
                {"disabled", user.disabled},
                {"route", common::route_of(user.name)},
                {"created_at", common::format_rfc3339(user.created_at)}};
}

json to_json(const key_record& key, common::unix_seconds now) {
    const char* status = key.revoked_at != 0                            ? "revoked"
                         : key.expires_at != 0 && key.expires_at <= now ? "expired"
                                                                        : "active";
    return json{{"key_id", common::format_key_id(key.key_id)},
                {"user", key.user},
                {"label", key.label},
                {"status", status},
                {"created_at", common::format_rfc3339(key.created_at)},
                {"expires_at", rfc3339_or_null(key.expires_at)},
                {"revoked_at", rfc3339_or_null(key.revoked_at)}};
}

namespace {

// What a route's handler gets: the request, the path's {placeholder} segments in order, the time.
struct call {
    const api_request& request;
    std::vector<std::string> params;
    common::unix_seconds now;
};

using handler_fn = api_response (*)(catalog&, const call&);

api_response not_found(std::string detail) {
    return {404, problem(404, "not-found", "Not found", detail)};
}

// One page of a list route, as `{field: [...], "next_cursor": ...}`. `fetch(after, n)` reads up
// to n items after a position ("" for the start); `position_of(item)` is where the page after
// it starts; `render(item)` is its JSON. A list route is one call of this.
template <typename Fetch, typename Position, typename Render>
api_response paged(const call& c, const char* field, Fetch fetch, Position position_of,
                   Render render) {
    std::size_t limit = default_page_size;
    if (auto text = query_param(c.request, "limit")) {
        const auto n = parse_page_size(*text);
        if (!n) throw bad_request{fmt::format("limit: a whole number from 1 to {}", max_page_size)};
        limit = *n;
    }
    std::string after;
    if (auto text = query_param(c.request, "cursor")) {
        auto position = decode_cursor(*text);
        if (!position) throw bad_request{"cursor: not one this server handed out"};
        after = std::move(*position);
    }
    auto items = fetch(after, limit + 1);  // the one past the page says whether another follows
    json out = json::array();
    json next = nullptr;
    for (std::size_t i = 0; i < items.size() && i < limit; ++i) out.push_back(render(items[i]));
    if (items.size() > limit) next = encode_cursor(position_of(items[limit - 1]));
    return {200, json{{field, std::move(out)}, {"next_cursor", std::move(next)}}};
}

api_response list_users(catalog& catalog, const call& c) {
    return paged(
        c, "users",
        [&](const std::string& after, std::size_t n) { return catalog.list_users(after, n); },
        [](const user_record& user) { return user.name; },
        [&](const user_record& user) { return to_json(user, catalog); });
}

api_response create_user(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    auto r = catalog.create_user(string_field(body, "name", true),
                                 terms_field(body).value_or(user_terms::follow(default_plan)));
    if (auto f = failure(r)) return *f;
    return {201, to_json(*r.value, catalog)};
}

api_response show_user(catalog& catalog, const call& c) {
    const std::string& name = c.params[0];
    auto user = catalog.find_user(name);
    if (!user) return not_found(fmt::format("no user '{}'", name));
    return {200, to_json(*user, catalog)};
}

api_response update_user(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    auto r = catalog.update_user(c.params[0],
                                 user_change{terms_field(body), bool_field(body, "disabled")});
    if (auto f = failure(r)) return *f;
    return {200, to_json(*r.value, catalog)};
}

api_response delete_user(catalog& catalog, const call& c) {
    auto r = catalog.delete_user(c.params[0]);
    if (auto f = failure(r)) return *f;
    return {200, to_json(*r.value, catalog)};
}

// Position of the built-in plan in a plans cursor: before every name a plan can have.
const std::string builtin_position(1, '\0');

api_response list_plans(catalog& catalog, const call& c) {
    return paged(
        c, "plans",
        [&](const std::string& after, std::size_t n) {
            // The built-in plan comes first, then the stored ones in name order.
            std::vector<plan_record> page;
            if (after.empty()) page.push_back(catalog.builtin_plan());
            auto stored =
                catalog.list_plans(after.empty() ? builtin_position : after, n - page.size());
            for (auto& plan : stored) page.push_back(std::move(plan));
            return page;
        },
        [](const plan_record& plan) {
            return plan.name == default_plan ? builtin_position : plan.name;
        },
        [](const plan_record& plan) { return to_json(plan); });
}

api_response create_plan(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    const std::string name = string_field(body, "name", true);
    auto limits = limits_field(body);
    if (!limits) throw bad_request{"missing field 'limits'"};
    auto r = catalog.create_plan(name, *limits, bool_field(body, "shadow").value_or(false));
    if (auto f = failure(r)) return *f;
    return {201, to_json(*r.value, std::size_t{0})};
}

api_response show_plan(catalog& catalog, const call& c) {
    const std::string& name = c.params[0];
    auto plan = catalog.find_plan(name);
    if (!plan) return not_found(fmt::format("no plan '{}'", name));
    return {200, to_json(*plan, catalog.followers(name))};
}

api_response update_plan(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    auto limits = limits_field(body);
    const auto shadow = bool_field(body, "shadow");
    auto r = catalog.update_plan(c.params[0], std::move(limits), shadow);
    if (auto f = failure(r)) return *f;
    return {200, to_json(*r.value, catalog.followers(c.params[0]))};
}

api_response delete_plan(catalog& catalog, const call& c) {
    auto r = catalog.delete_plan(c.params[0]);
    if (auto f = failure(r)) return *f;
    return {200, to_json(*r.value)};
}

api_response list_keys(catalog& catalog, const call& c) {
    const auto user = query_param(c.request, "user");
    if (user && !catalog.find_user(*user)) return not_found(fmt::format("no user '{}'", *user));
    const auto of = user ? std::optional<std::string_view>(*user) : std::nullopt;
    return paged(
        c, "keys",
        [&](const std::string& after, std::size_t n) {
            const std::uint64_t from = after.empty() ? 0 : key_id_or_throw(after);
            return catalog.list_keys(of, from, n).value.value_or(std::vector<key_record>{});
        },
        [](const key_record& key) { return common::format_key_id(key.key_id); },
        [&](const key_record& key) { return to_json(key, c.now); });
}

api_response create_key(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    auto r = catalog.create_key(string_field(body, "user", true), string_field(body, "label"),
                                parse_expiry(string_field(body, "expires"), c.now));
    if (auto f = failure(r)) return *f;
    json out = to_json(r.value->record, c.now);
    out["key"] = r.value->key;
    return {201, out};
}

api_response import_key(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    auto r = catalog.import_key(string_field(body, "user", true), string_field(body, "key", true),
                                string_field(body, "label"));
    if (auto f = failure(r)) return *f;
    return {success_status(r.status), to_json(*r.value, c.now)};
}

api_response show_key(catalog& catalog, const call& c) {
    auto key = catalog.find_key(key_id_or_throw(c.params[0]));
    if (!key) return not_found(fmt::format("no key '{}'", c.params[0]));
    return {200, to_json(*key, c.now)};
}

api_response revoke_key(catalog& catalog, const call& c) {
    auto r = catalog.revoke_key(key_id_or_throw(c.params[0]));
    if (auto f = failure(r)) return *f;
    return {200, to_json(*r.value, c.now)};
}

api_response import_rows(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    const json& rows_in = array_field(body, "rows", "{user, key, limit?, limits?, plan?}");
    std::vector<import_row> rows;
    rows.reserve(rows_in.size());
    for (const auto& row : rows_in) {
        if (!row.is_object()) throw bad_request{"every row must be an object"};
        rows.push_back({string_field(row, "user", true), string_field(row, "key", true),
                        limit_field(row), limits_field(row), string_field(row, "plan")});
    }
    const auto summary = catalog.import(rows);
    json errors = json::array();
    for (const auto& [row, reason] : summary.errors)
        errors.push_back(json{{"row", row}, {"error", reason}});
    return {200, json{{"users_created", summary.users_created},
                      {"users_updated", summary.users_updated},
                      {"keys_imported", summary.keys_imported},
                      {"keys_unchanged", summary.keys_unchanged},
                      {"errors", errors}}};
}

api_response usage_over_time(catalog& catalog, const call& c) {
    usage_query query;
    query.user = query_param(c.request, "user");
    if (auto id = query_param(c.request, "key_id")) query.key_id = key_id_or_throw(*id);
    if (query.user && query.key_id) throw bad_request{"give a user or a key id, not both"};
    if (query.user && !catalog.find_user(*query.user))
        return not_found(fmt::format("no user '{}'", *query.user));
    std::int64_t step = 0;
    if (auto text = query_param(c.request, "step")) {
        auto d = common::parse_duration(*text);
        if (!d || d->count() <= 0) throw bad_request{"step: use 1s, 1m, 1h or 1d"};
        step = d->count();
    }
    const usage_plan plan = plan_or_throw(catalog.store(), c.request, c.now, step);
    const auto report = build_usage_report(catalog.store(), plan, query);
    json buckets = json::array();
    for (const auto& b : report.buckets) {
        json bucket = counts_json(b.count);
        bucket["start"] = common::format_rfc3339(b.start);
        buckets.push_back(std::move(bucket));
    }
    return {200, json{{"since", common::format_rfc3339(report.since)},
                      {"until", common::format_rfc3339(report.until)},
                      {"step", report.step},
                      {"resolution", storage::period_of(report.resolution)},
                      {"buckets", buckets},
                      {"total", counts_json(report.total)}}};
}

api_response usage_top(catalog& catalog, const call& c) {
    std::size_t limit = 10;
    if (auto text = query_param(c.request, "limit")) {
        char* end = nullptr;
        const long n = std::strtol(text->c_str(), &end, 10);
        if (*end != '\0' || n < 1 || n > 10000)
            throw bad_request{"limit: a whole number from 1 to 10000"};
        limit = static_cast<std::size_t>(n);
    }
    const std::string by = query_param(c.request, "by").value_or("");
    if (!by.empty() && by != "admitted" && by != "rejected" && by != "shadow")
        throw bad_request{"by: admitted, rejected or shadow"};
    // No steps here, so any resolution will do: a day is a whole number of each.
    const usage_plan plan = plan_or_throw(catalog.store(), c.request, c.now, 86400);
    auto users = usage_by_user(catalog.store(), plan);
    storage::usage_count total;
    for (const auto& u : users) total += u.count;
    json out{{"since", common::format_rfc3339(plan.since)},
             {"until", common::format_rfc3339(plan.until - 1)},
             {"limit", limit},
             {"total", counts_json(total)}};
    if (by.empty() || by == "admitted") out["by_admitted"] = heaviest(users, limit, admitted_of);
    if (by.empty() || by == "rejected") out["by_rejected"] = heaviest(users, limit, rejected_of);
    // Without `by`, the shadow ranking only where shadow mode counted something.
    if (by == "shadow" || (by.empty() && total.shadow_limited > 0))
        out["by_shadow"] = heaviest(users, limit, shadow_limited_of);
    return {200, out};
}

// Export and import: one object per record with a "type", as stored (a user's plan, or their
// own limits, plan null; a key's SHA-256 and id, never a secret). Plans come before users.
json export_json(const plan_record& plan) {
    return json{{"type", "plan"},
                {"name", plan.name},
                {"limits", plan.limits},
                {"shadow", plan.shadow},
                {"created_at", common::format_rfc3339(plan.created_at)},
                {"updated_at", common::format_rfc3339(plan.updated_at)}};
}

json export_json(const user_record& user) {
    return json{{"type", "user"},
                {"name", user.name},
                {"plan", user.plan.empty() ? json(nullptr) : json(user.plan)},
                {"limits", user.limits.empty() ? json(nullptr) : json(user.limits)},
                {"disabled", user.disabled},
                {"created_at", common::format_rfc3339(user.created_at)}};
}

json export_json(const key_record& key) {
    return json{{"type", "key"},
                {"key_id", common::format_key_id(key.key_id)},
                {"sha256", common::to_hex(key.hash.data(), key.hash.size())},
                {"user", key.user},
                {"label", key.label},
                {"created_at", common::format_rfc3339(key.created_at)},
                {"expires_at", rfc3339_or_null(key.expires_at)},
                {"revoked_at", rfc3339_or_null(key.revoked_at)}};
}

common::unix_seconds time_field(const json& record, const char* name, bool required) {
    const std::string text = string_field(record, name, required);
    if (text.empty()) return 0;
    auto t = common::parse_rfc3339(text);
    if (!t) throw bad_request{fmt::format("field '{}' must be an RFC 3339 time", name)};
    return *t;
}

catalog_record record_of(const json& record) {
    if (!record.is_object()) throw bad_request{"a record must be a JSON object"};
    const std::string type = string_field(record, "type", true);
    if (type == "plan") {
        auto limits = limits_field(record);
        if (!limits) throw bad_request{"missing field 'limits'"};
        return plan_record{string_field(record, "name", true), limiter::to_string(*limits),
                           bool_field(record, "shadow").value_or(false),
                           time_field(record, "created_at", true),
                           time_field(record, "updated_at", false)};
    }
    if (type == "user") {
        // Exports before plans held a single `limit` (null: the default).
        user_record user{string_field(record, "name", true),
                         string_field(record, "plan"),
                         {},
                         bool_field(record, "disabled").value_or(false),
                         time_field(record, "created_at", true)};
        auto limits = limits_field(record);
        const auto limit = limit_field(record);
        if (limits && limit) throw bad_request{"give limits or limit, not both"};
        if (limit) {
            if (*limit < 1 || *limit > max_limit)
                throw bad_request{fmt::format("limit must be between 1 and {}", max_limit)};
            limits = limiter::policy{{limiter::sliding_limit(1, *limit)}};
        }
        if (limits) {
            if (!user.plan.empty()) throw bad_request{"give a plan or limits, not both"};
            user.limits = limiter::to_string(*limits);
        }
        return user;
    }
    if (type == "key") {
        auto hash = common::parse_key_hash(string_field(record, "sha256", true));
        if (!hash) throw bad_request{"field 'sha256' must be 64 lowercase hex digits"};
        return key_record{key_id_or_throw(string_field(record, "key_id", true)),
                          *hash,
                          string_field(record, "user", true),
                          string_field(record, "label"),
                          time_field(record, "created_at", true),
                          time_field(record, "expires_at", false),
                          time_field(record, "revoked_at", false)};
    }
    throw bad_request{fmt::format("unknown record type '{}': expected plan, user or key", type)};
}

std::size_t page_limit(const api_request& request, std::size_t fallback) {
    const auto text = query_param(request, "limit");
    if (!text) return fallback;
    char* end = nullptr;
    const long n = std::strtol(text->c_str(), &end, 10);
    if (*end != '\0' || n < 1 || n > 10000)
        throw bad_request{"limit: a whole number from 1 to 10000"};
    return static_cast<std::size_t>(n);
}

// An export cursor names the last record sent: 'p', 'u' or 'k' and the hex of its stored key, so
// a page goes on after it even when records were added or removed meanwhile.
struct export_cursor {
    char phase = 'p';
    std::string after;  // stored key bytes; empty: from the phase's first record
};

export_cursor parse_export_cursor(const api_request& request) {
    const auto text = query_param(request, "cursor");
    if (!text) return {};
    const std::string& t = *text;
    export_cursor cursor{t[0], {}};
    auto digit = [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
               : ch >= 'a' && ch <= 'f'                     ? ch - 'a' + 10
                                                            : -1;
    };
    bool ok =
        (cursor.phase == 'p' || cursor.phase == 'u' || cursor.phase == 'k') && t.size() % 2 == 1;
    for (std::size_t i = 1; ok && i < t.size(); i += 2) {
        const int high = digit(t[i]), low = digit(t[i + 1]);
        ok = high >= 0 && low >= 0;
        cursor.after.push_back(static_cast<char>(high << 4 | low));
    }
    if (!ok) throw bad_request{"cursor: pass back the next_cursor of the previous page"};
    return cursor;
}

std::string export_cursor_text(char phase, std::string_view after) {
    return phase +
           common::to_hex(reinterpret_cast<const std::uint8_t*>(after.data()), after.size());
}

api_response export_records(catalog& catalog, const call& c) {
    const std::size_t limit = page_limit(c.request, 1000);
    export_cursor cursor = parse_export_cursor(c.request);
    const auto& store = catalog.store().catalog();
    json records = json::array();
    std::optional<std::string> next;
    if (cursor.phase == 'p') {
        for (const auto& plan : store.list_plans(cursor.after, limit)) {
            records.push_back(export_json(plan));
            next = export_cursor_text('p', plan.name);
        }
        if (records.size() < limit) cursor = {'u', {}};  // plans done: users follow
    }
    if (cursor.phase == 'u' && records.size() < limit) {
        for (const auto& user : store.list_users(cursor.after, limit - records.size())) {
            records.push_back(export_json(user));
            next = export_cursor_text('u', user.name);
        }
        if (records.size() < limit) cursor = {'k', {}};  // users done: keys follow
    }
    if (cursor.phase == 'k' && records.size() < limit) {
        std::optional<common::key_hash> after;
        if (!cursor.after.empty()) {
            if (cursor.after.size() != sizeof(common::key_hash))
                throw bad_request{"cursor: pass back the next_cursor of the previous page"};
            after.emplace();
            std::memcpy(after->data(), cursor.after.data(), after->size());
        }
        const auto keys = store.keys_after(after ? &*after : nullptr, limit - records.size());
        for (const auto& key : keys) records.push_back(export_json(key));
        if (!keys.empty()) {
            const auto& last = keys.back().hash;
            next = export_cursor_text(
                'k', std::string_view(reinterpret_cast<const char*>(last.data()), last.size()));
        }
    }
    // A short page is the last one.
    json out{{"records", records}, {"next_cursor", nullptr}};
    if (records.size() == limit && next) out["next_cursor"] = *next;
    return {200, out};
}

api_response import_records(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    const json& in = array_field(body, "records", "exported records");
    std::vector<catalog_record> records;
    records.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        try {
            records.push_back(record_of(in[i]));
        } catch (const bad_request& e) {
            json p = problem(400, "invalid-request", "Invalid request", e.detail);
            p["record"] = i;
            return {400, p};
        }
    }
    if (auto error = catalog.restore_records(records)) {
        json p = problem(400, "invalid-request", "Invalid request", error->message);
        p["record"] = error->index;
        return {400, p};
    }
    return {200, json{{"records", records.size()}}};
}

api_response take_backup(catalog& catalog, const call& c) {
    const json body = parse_body(c.request);
    const std::string path = string_field(body, "path", true);
    if (path.empty() || path.front() != '/')
        throw bad_request{"path: an absolute path on the server's host, which must not exist"};
    try {
        const auto m = catalog.store().backup(path);
        return {201, json{{"path", path},
                          {"schema_version", m.schema_version},
                          {"taken_at", common::format_rfc3339(m.taken_at)},
                          {"revision", m.revision},
                          {"sequence", m.sequence}}};
    } catch (const storage::storage_error& e) {
        if (e.code() != storage::storage_errc::exists) throw;
        return {409, problem(409, "conflict", "Conflict", e.what())};
    }
}

struct route {
    std::string_view method;
    std::string_view pattern;  // segments; a {placeholder} matches any one
    handler_fn handler;
    bool reads_usage = false;  // runs admin_api's before_usage_reads hook first
};

// Tried in order; the first route whose method and pattern match answers.
// clang-format off
constexpr route routes[] = {
    {"GET",    "/v1/users",                list_users},
    {"POST",   "/v1/users",                create_user},
    {"GET",    "/v1/users/{name}",         show_user},
    {"PATCH",  "/v1/users/{name}",         update_user},
    {"DELETE", "/v1/users/{name}",         delete_user},
    {"GET",    "/v1/plans",                list_plans},
    {"POST",   "/v1/plans",                create_plan},
    {"GET",    "/v1/plans/{name}",         show_plan},
    {"PATCH",  "/v1/plans/{name}",         update_plan},
    {"DELETE", "/v1/plans/{name}",         delete_plan},
    {"GET",    "/v1/keys",                 list_keys},
    {"POST",   "/v1/keys",                 create_key},
    {"POST",   "/v1/keys/import",          import_key},
    {"GET",    "/v1/keys/{key_id}",        show_key},
    {"POST",   "/v1/keys/{key_id}/revoke", revoke_key},
    {"POST",   "/v1/import",               import_rows},
    {"GET",    "/v1/usage",                usage_over_time, true},
    {"GET",    "/v1/usage/top",            usage_top,       true},
    {"GET",    "/v1/export",               export_records,  true},
    {"POST",   "/v1/import/records",       import_records},
    {"POST",   "/v1/backup",               take_backup,     true},
};
// clang-format on

// The placeholder segments of `parts` when they match `pattern`, else nullopt.
std::optional<std::vector<std::string>> match(std::string_view pattern,
                                              const std::vector<std::string>& parts) {
    std::vector<std::string> params;
    std::size_t i = 0;
    for (const std::string& segment : split_path(std::string(pattern))) {
        if (i == parts.size()) return std::nullopt;
        if (segment.front() == '{')
            params.push_back(parts[i]);
        else if (segment != parts[i])
            return std::nullopt;
        ++i;
    }
    if (i != parts.size()) return std::nullopt;
    return params;
}

}  // namespace

api_response admin_api::handle(const api_request& request) const {
    try {
        return dispatch(request);
    } catch (const bad_request& e) {
        return {400, problem(400, "invalid-request", "Invalid request", e.detail)};
    } catch (const storage::storage_error& e) {
        return {503, problem(503, "storage-unavailable", "Storage unavailable", e.what())};
    } catch (const std::exception& e) {
        return {500, problem(500, "internal-error", "Internal error", e.what())};
    }
}

json admin_api::record_of(const api_request& request) const noexcept {
    try {
        const auto parts = split_path(request.path);
        const auto now = common::wall_now();
        std::optional<std::string> user;
        if (auto p = match("/v1/users/{name}", parts)) user = (*p)[0];
        if (request.method == "POST" && match("/v1/users", parts))
            user = string_field(parse_body(request), "name");
        if (user) {
            const auto found = catalog_.find_user(*user);
            return found ? to_json(*found, catalog_) : json(nullptr);
        }
        std::optional<std::string> plan;
        if (auto p = match("/v1/plans/{name}", parts)) plan = (*p)[0];
        if (request.method == "POST" && match("/v1/plans", parts))
            plan = string_field(parse_body(request), "name");
        if (plan) {
            const auto found = catalog_.find_plan(*plan);
            return found ? to_json(*found, catalog_.followers(*plan)) : json(nullptr);
        }
        auto key = match("/v1/keys/{key_id}", parts);
        if (!key) key = match("/v1/keys/{key_id}/revoke", parts);
        if (key) {
            const auto found = catalog_.find_key(key_id_or_throw((*key)[0]));
            return found ? to_json(*found, now) : json(nullptr);
        }
    } catch (...) {  // a request too malformed to name a record names none
    }
    return nullptr;
}

api_response admin_api::dispatch(const api_request& request) const {
    const auto parts = split_path(request.path);
    for (const route& r : routes) {
        if (request.method != r.method) continue;
        if (auto params = match(r.pattern, parts)) {
            if (r.reads_usage && before_usage_reads_) before_usage_reads_();
            return r.handler(catalog_, {request, std::move(*params), common::wall_now()});
        }
    }
    return {404, problem(404, "not-found", "Not found",
                         fmt::format("no admin route {} {}", request.method, request.path))};
}

}  // namespace rl::admin
