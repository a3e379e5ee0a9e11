#include "admin/admin_api.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <limits>
#include <vector>

#include "admin/usage_report.hpp"
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

std::optional<std::uint32_t> limit_field(const json& body, const char* name = "limit") {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max())
        throw bad_request{
            fmt::format("field '{}' must be a whole number from 1 to {}", name, max_limit)};
    return it->get<std::uint32_t>();
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

api_response not_found_route(const api_request& request) {
    return {404, problem(404, "not-found", "Not found",
                         fmt::format("no admin route {} {}", request.method, request.path))};
}

common::unix_seconds parse_expiry(const std::string& text, common::unix_seconds now) {
    if (text.empty()) return 0;
    if (auto d = common::parse_duration(text)) return now + d->count();
    if (auto t = common::parse_rfc3339(text)) return *t;
    throw bad_request{"expires: use a duration like 30d or an RFC 3339 time"};
}

json counts_json(const storage::usage_count& count) {
    return json{{"allowed", count.admitted}, {"rejected", count.limited}};
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

// The first `limit` users with some of `field`, most first (ties: more admitted, then by name).
json heaviest(std::vector<user_usage> users, std::size_t limit,
              std::uint64_t storage::usage_count::*field) {
    std::stable_sort(users.begin(), users.end(), [&](const user_usage& a, const user_usage& b) {
        return a.count.*field > b.count.*field;
    });
    json rows = json::array();
    for (const auto& u : users) {
        if (rows.size() == limit || u.count.*field == 0) break;
        rows.push_back(
            json{{"user", u.user}, {"allowed", u.count.admitted}, {"rejected", u.count.limited}});
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
    return json{{"type", fmt::format("urn:ratelimitd:problem:{}", type)},
                {"title", title},
                {"status", status},
                {"detail", detail}};
}

json to_json(const user_record& user, const catalog& catalog) {
    return json{{"name", user.name},
                {"limit", catalog.effective_limit(user)},
                {"default_limit", user.limit == 0},
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

api_response admin_api::dispatch(const api_request& request) const {
    const auto parts = split_path(request.path);
    const std::string& method = request.method;
    const auto now = common::wall_now();
    if (parts.size() < 2 || parts[0] != "v1") return not_found_route(request);
    const std::string& collection = parts[1];

    if (collection == "users") {
        if (parts.size() == 2 && method == "GET") {
            json users = json::array();
            for (const auto& user : catalog_.list_users()) users.push_back(to_json(user, catalog_));
            return {200, json{{"users", users}}};
        }
        if (parts.size() == 2 && method == "POST") {
            const json body = parse_body(request);
            auto r = catalog_.create_user(string_field(body, "name", true), limit_field(body));
            if (auto f = failure(r)) return *f;
            return {201, to_json(*r.value, catalog_)};
        }
        if (parts.size() != 3) return not_found_route(request);
        const std::string& name = parts[2];
        if (method == "GET") {
            auto user = catalog_.find_user(name);
            if (!user)
                return {404,
                        problem(404, "not-found", "Not found", fmt::format("no user '{}'", name))};
            return {200, to_json(*user, catalog_)};
        }
        if (method == "PATCH") {
            const json body = parse_body(request);
            auto r = catalog_.update_user(name, limit_field(body), bool_field(body, "disabled"));
            if (auto f = failure(r)) return *f;
            return {200, to_json(*r.value, catalog_)};
        }
        if (method == "DELETE") {
            auto r = catalog_.delete_user(name);
            if (auto f = failure(r)) return *f;
            return {200, to_json(*r.value, catalog_)};
        }
        return not_found_route(request);
    }

    if (collection == "keys") {
        if (parts.size() == 2 && method == "GET") {
            const auto user = query_param(request, "user");
            auto r =
                catalog_.list_keys(user ? std::optional<std::string_view>(*user) : std::nullopt);
            if (auto f = failure(r)) return *f;
            json keys = json::array();
            for (const auto& key : *r.value) keys.push_back(to_json(key, now));
            return {200, json{{"keys", keys}}};
        }
        if (parts.size() == 2 && method == "POST") {
            const json body = parse_body(request);
            auto r =
                catalog_.create_key(string_field(body, "user", true), string_field(body, "label"),
                                    parse_expiry(string_field(body, "expires"), now));
            if (auto f = failure(r)) return *f;
            json out = to_json(r.value->record, now);
            out["key"] = r.value->key;
            return {201, out};
        }
        if (parts.size() == 3 && parts[2] == "import" && method == "POST") {
            const json body = parse_body(request);
            auto r =
                catalog_.import_key(string_field(body, "user", true),
                                    string_field(body, "key", true), string_field(body, "label"));
            if (auto f = failure(r)) return *f;
            return {success_status(r.status), to_json(*r.value, now)};
        }
        if (parts.size() == 3 && method == "GET") {
            auto key = catalog_.find_key(key_id_or_throw(parts[2]));
            if (!key)
                return {404, problem(404, "not-found", "Not found",
                                     fmt::format("no key '{}'", parts[2]))};
            return {200, to_json(*key, now)};
        }
        if (parts.size() == 4 && parts[3] == "revoke" && method == "POST") {
            auto r = catalog_.revoke_key(key_id_or_throw(parts[2]));
            if (auto f = failure(r)) return *f;
            return {200, to_json(*r.value, now)};
        }
        return not_found_route(request);
    }

    if (collection == "import" && parts.size() == 2 && method == "POST") {
        const json body = parse_body(request);
        auto rows_it = body.find("rows");
        if (rows_it == body.end() || !rows_it->is_array())
            throw bad_request{"field 'rows' must be an array of {user, key, limit?}"};
        std::vector<import_row> rows;
        rows.reserve(rows_it->size());
        for (const auto& row : *rows_it) {
            if (!row.is_object()) throw bad_request{"every row must be an object"};
            rows.push_back({string_field(row, "user", true), string_field(row, "key", true),
                            limit_field(row)});
        }
        const auto summary = catalog_.import(rows);
        json errors = json::array();
        for (const auto& [row, reason] : summary.errors)
            errors.push_back(json{{"row", row}, {"error", reason}});
        return {200, json{{"users_created", summary.users_created},
                          {"users_updated", summary.users_updated},
                          {"keys_imported", summary.keys_imported},
                          {"keys_unchanged", summary.keys_unchanged},
                          {"errors", errors}}};
    }

    if (collection == "usage" && parts.size() == 2 && method == "GET") {
        usage_query query;
        query.user = query_param(request, "user");
        if (auto id = query_param(request, "key_id")) query.key_id = key_id_or_throw(*id);
        if (query.user && query.key_id) throw bad_request{"give a user or a key id, not both"};
        if (query.user && !catalog_.find_user(*query.user))
            return {404, problem(404, "not-found", "Not found",
                                 fmt::format("no user '{}'", *query.user))};
        std::int64_t step = 0;
        if (auto text = query_param(request, "step")) {
            auto d = common::parse_duration(*text);
            if (!d || d->count() <= 0) throw bad_request{"step: use 1s, 1m, 1h or 1d"};
            step = d->count();
        }
        const usage_plan plan = plan_or_throw(catalog_.store(), request, now, step);
        const auto report = build_usage_report(catalog_.store(), plan, query);
        json buckets = json::array();
        for (const auto& b : report.buckets)
            buckets.push_back(json{{"start", common::format_rfc3339(b.start)},
                                   {"allowed", b.count.admitted},
                                   {"rejected", b.count.limited}});
        return {200, json{{"since", common::format_rfc3339(report.since)},
                          {"until", common::format_rfc3339(report.until)},
                          {"step", report.step},
                          {"resolution", storage::period_of(report.resolution)},
                          {"buckets", buckets},
                          {"total", counts_json(report.total)}}};
    }

    if (collection == "usage" && parts.size() == 3 && parts[2] == "top" && method == "GET") {
        std::size_t limit = 10;
        if (auto text = query_param(request, "limit")) {
            char* end = nullptr;
            const long n = std::strtol(text->c_str(), &end, 10);
            if (*end != '\0' || n < 1 || n > 10000)
                throw bad_request{"limit: a whole number from 1 to 10000"};
            limit = static_cast<std::size_t>(n);
        }
        const std::string by = query_param(request, "by").value_or("");
        if (!by.empty() && by != "admitted" && by != "rejected")
            throw bad_request{"by: admitted or rejected"};
        // No steps here, so any resolution will do: a day is a whole number of each.
        const usage_plan plan = plan_or_throw(catalog_.store(), request, now, 86400);
        auto users = usage_by_user(catalog_.store(), plan);
        storage::usage_count total;
        for (const auto& u : users) total += u.count;
        json out{{"since", common::format_rfc3339(plan.since)},
                 {"until", common::format_rfc3339(plan.until - 1)},
                 {"limit", limit},
                 {"total", counts_json(total)}};
        if (by != "rejected")
            out["by_admitted"] = heaviest(users, limit, &storage::usage_count::admitted);
        if (by != "admitted")
            out["by_rejected"] = heaviest(users, limit, &storage::usage_count::limited);
        return {200, out};
    }
    return not_found_route(request);
}

}  // namespace rl::admin
