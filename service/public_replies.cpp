#include "service/public_replies.hpp"

#include <algorithm>

#include "common/problem.hpp"
#include "service/text.hpp"

namespace rl::service {

namespace {

struct problem {
    int status;
    std::string_view type;
    std::string_view title;
    std::string_view detail;
};

// Both /limit (while loading) and /readyz answer this one.
constexpr problem not_ready{503, "not-ready", "Not ready", "the key store is still loading"};

// Whole seconds, rounded up, until quota frees: what Retry-After and `t` promise. The limiter
// keeps times in whole microseconds, rounded to the strict side, so a wait can come out a
// microsecond past a whole second; up to a millisecond over is taken as that rounding (no
// client retries that precisely), not as one more second.
long long seconds_until(std::chrono::nanoseconds d) {
    constexpr long long rounding = 1'000'000;
    const auto ns = d.count();
    return ns <= 0 ? 0 : std::max(1LL, (ns - rounding + 999'999'999) / 1'000'000'000);
}

// RateLimit-Policy lists every limit; RateLimit gives each limit's remaining quota and the
// seconds until it frees some (draft-ietf-httpapi-ratelimit-headers-11), closest to
// exhaustion first.
void add_ratelimit_headers(http_reply& reply, const terms& t, const limiter::policy_decision& d) {
    reply.headers.add("RateLimit-Policy", t.policy_field);
    reply.headers.add_with("RateLimit", [&](text& field) {
        const auto item = [&](std::size_t i) {
            const limiter::limit_reading& r = d.limits[i];
            field << "\"" << t.names[i] << "\";r=" << static_cast<long long>(r.remaining)
                  << ";t=" << seconds_until(r.reset_after);
        };
        item(d.closest);
        for (std::size_t i = 0; i < d.count; ++i) {
            if (i == d.closest) continue;
            field << ", ";
            item(i);
        }
    });
}

// The 200 body: the limit closest to exhaustion, as the one-limit body always gave it.
void set_admitted(http_reply& reply, const limit_result& result) {
    const limiter::limit_reading& closest = result.decision.limits[result.decision.closest];
    reply.status = 200;
    reply.content_type = "application/json";
    reply.body =
        (text(64 + result.user->name.size())
         << R"({"admitted":true,"user":")" << result.user->name << R"(","limit":)"
         << static_cast<long long>(result.terms->policy.limits[result.decision.closest].quota)
         << R"(,"remaining":)" << static_cast<long long>(closest.remaining) << "}")
            .take();
    add_ratelimit_headers(reply, *result.terms, result.decision);
    reply.headers.add("X-RateLimit-User", result.user->name);
}

void add_www_authenticate(http_reply& reply) {
    reply.headers.add("WWW-Authenticate", "ApiKey header=\"X-API-KEY\"");
}

// A problem body up to the opening quote of its detail, which the caller writes and closes.
text& problem_head(text& body, int status, std::string_view type, std::string_view title) {
    return body << R"({"type":")" << common::problem_type_prefix << type << R"(","title":")"
                << title << R"(","status":)" << status << R"(,"detail":")";
}

void set_problem(http_reply& reply, int status, std::string_view type, std::string_view title,
                 std::string_view detail) {
    reply.status = status;
    reply.content_type = "application/problem+json";
    text body(96 + common::problem_type_prefix.size() + type.size() + title.size() + detail.size());
    reply.body = (problem_head(body, status, type, title) << detail << R"("})").take();
}

void set_problem(http_reply& reply, const problem& p) {
    set_problem(reply, p.status, p.type, p.title, p.detail);
}

// A 429: Retry-After is when every violated limit has room again, and the body names them
// (violated-policies, as the RateLimit fields name them). Written in one buffer: most replies
// under load are 429s.
void set_limited(http_reply& reply, const limit_result& result) {
    const limiter::policy_decision& d = result.decision;
    const limiter::policy& p = result.terms->policy;
    const long long retry = std::max(1LL, seconds_until(d.retry_after));
    const auto violated = [&](auto&& each) {
        bool first = true;
        for (std::size_t i = 0; i < d.count; ++i) {
            if (!d.limits[i].violated) continue;
            each(i, first);
            first = false;
        }
    };
    reply.status = 429;
    reply.content_type = "application/problem+json";
    text body(256);
    problem_head(body, 429, "rate-limited", "Too many requests") << "limit reached: ";
    violated([&](std::size_t i, bool first) {
        const std::string& name = result.terms->names[i];
        body << (first ? "" : ", ") << static_cast<long long>(p.limits[i].quota) << " requests per "
             << (name == "default" ? std::string_view("second") : std::string_view(name));
    });
    body << "; retry in " << retry << R"( s","violated-policies":[)";
    violated([&](std::size_t i, bool first) {
        body << (first ? "\"" : ",\"") << result.terms->names[i] << "\"";
    });
    reply.body = (body << "]}").take();
    reply.headers.add_with("Retry-After", [&](text& field) { field << retry; });
    add_ratelimit_headers(reply, *result.terms, d);
}

// Cluster mode's 503s: the type again in X-RateLimit-Reason, which marks them for the balancer
// to retry (and keeps adapt_for_auth_request from turning them into 403s).
void set_retry_elsewhere(http_reply& reply, const problem& p) {
    set_problem(reply, p);
    reply.headers.add("Retry-After", "1");
    reply.headers.add("X-RateLimit-Reason", p.type);
}

}  // namespace

header_fields::header_fields(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    for (const auto& [name, value] : fields) add(name, value);
}

std::optional<std::string_view> header_fields::find(std::string_view name) const {
    for (const auto& [n, v] : *this)
        if (n == name) return v;
    return std::nullopt;
}

void header_fields::const_iterator::parse() {
    if (rest_.empty()) return;
    const std::size_t colon = rest_.find(": ");
    const std::size_t end = rest_.find("\r\n", colon);
    field_ = {rest_.substr(0, colon), rest_.substr(colon + 2, end - colon - 2)};
    line_size_ = end + 2;
}

http_reply render(const limit_result& result) {
    http_reply reply;
    switch (result.outcome) {
        case limit_outcome::admitted: set_admitted(reply, result); break;
        case limit_outcome::shadow_limited:
            // The one difference shadow mode makes to the reply: enforcement would have limited.
            set_admitted(reply, result);
            reply.headers.add("X-RateLimit-Shadow", "limited");
            break;
        case limit_outcome::limited: set_limited(reply, result); break;
        case limit_outcome::missing_key:
            set_problem(reply, 401, "missing-api-key", "Missing API key",
                        "send the API key in the X-API-KEY header");
            add_www_authenticate(reply);
            break;
        case limit_outcome::invalid_key:
            set_problem(reply, 401, "invalid-api-key", "Invalid API key",
                        "the API key is unknown, revoked or malformed");
            add_www_authenticate(reply);
            break;
        case limit_outcome::expired_key:
            set_problem(reply, 401, "expired-api-key", "Expired API key",
                        "the API key has expired");
            add_www_authenticate(reply);
            break;
        case limit_outcome::user_disabled:
            set_problem(reply, 403, "user-disabled", "User disabled",
                        "the user owning this API key is disabled");
            break;
        case limit_outcome::not_ready:
            set_problem(reply, not_ready);
            reply.headers.add("Retry-After", "1");
            break;
        case limit_outcome::repeated_key:
            set_problem(reply, 400, "repeated-api-key", "More than one API key",
                        "send exactly one X-API-KEY header");
            break;
        case limit_outcome::not_owner:
            set_retry_elsewhere(reply, {503, "not-owner", "Not this node's user",
                                        "another node admits this user's requests; retry on "
                                        "another node"});
            break;
        case limit_outcome::fenced:
            set_retry_elsewhere(reply, {503, "fenced", "Ownership moving",
                                        "this node may not admit this user's requests now; "
                                        "retry shortly"});
            break;
        case limit_outcome::storage_unavailable:
            set_problem(reply, 503, "storage-unavailable", "Storage unavailable",
                        "usage could not be recorded; the request was not admitted");
            reply.headers.add("Retry-After", "1");
            break;
    }
    reply.headers.add("Cache-Control", "no-store");
    return reply;
}

http_reply health_reply() {
    return http_reply{200, "application/json", {}, R"({"status":"ok"})"};
}

http_reply readiness_reply(readiness state) {
    http_reply reply;
    switch (state) {
        case readiness::ready:
            return http_reply{200, "application/json", {}, R"({"status":"ready"})"};
        case readiness::loading: set_problem(reply, not_ready); break;
        case readiness::storage_failing:
            set_problem(reply, 503, "storage-unavailable", "Storage unavailable",
                        "storage is failing; limits are enforced from memory until it recovers");
            break;
    }
    return reply;
}

http_reply group_readiness_reply(const limit_handler& limit, std::string_view query) {
    constexpr std::string_view name = "group=";
    std::uint32_t group = 0;
    bool named = query.substr(0, name.size()) == name && query.size() > name.size() &&
                 query.size() <= name.size() + 3;
    for (std::size_t i = name.size(); named && i < query.size(); ++i) {
        named = query[i] >= '0' && query[i] <= '9';
        group = group * 10 + static_cast<std::uint32_t>(query[i] - '0');
    }
    if (!named)
        return problem_reply(400, "bad-query", "Bad query", "the only query is group=<number>");
    const cluster::ownership* owner = limit.cluster();
    if (owner && limit.ready() == readiness::ready && group < owner->settings().groups &&
        owner->admitting(group))
        return http_reply{200, "application/json", {}, R"({"status":"owner"})"};
    return problem_reply(503, "not-owner", "Not this group's owner",
                         "this node does not admit this group's users now");
}

http_reply not_found_reply() {
    return problem_reply(404, "not-found", "Not found",
                         "no such path; the public endpoints are /limit, /healthz and /readyz");
}

http_reply problem_reply(int status, std::string_view type, std::string_view title,
                         std::string_view detail) {
    http_reply reply;
    set_problem(reply, status, type, title, detail);
    return reply;
}

void adapt_for_auth_request(http_reply& reply) {
    if (reply.status < 300) return;
    // HAProxy retries these on another node only while they stay 503.
    if (reply.headers.find("X-RateLimit-Reason")) return;
    reply.headers.add_with("X-RateLimit-Status",
                           [&](text& field) { field << static_cast<long long>(reply.status); });
    if (reply.status != 401 && reply.status != 403) reply.status = 403;
}

void adapt_to_mode(http_reply& reply, const restinio::http_request_header_t& request) {
    if (reply.status < 300) return;
    const std::string* mode = request.try_get_field(auth_request_mode_header);
    if (mode && *mode == auth_request_mode) adapt_for_auth_request(reply);
}

const char* reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 409: return "Conflict";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Unknown";
    }
}

}  // namespace rl::service
