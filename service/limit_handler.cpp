#include "service/limit_handler.hpp"

#include <fmt/format.h>

namespace rl::service {

namespace {

// A result that is final at once (no usage to write).
limit_result finish(metrics& m, limit_outcome outcome, const limiter::decision& d = {},
                    const user_entry* user = nullptr) {
    m.count(outcome);
    return {outcome, d, user, {}};
}

// Whole seconds, rounded up, until quota frees: what Retry-After and `t` promise.
long long seconds_until(std::chrono::nanoseconds d) {
    const auto ns = d.count();
    return ns <= 0 ? 0 : (ns + 999'999'999) / 1'000'000'000;
}

void add_ratelimit_headers(http_reply& reply, const limiter::decision& d) {
    reply.headers.emplace_back("RateLimit-Policy", fmt::format("\"default\";q={};w=1", d.limit));
    reply.headers.emplace_back("RateLimit", fmt::format("\"default\";r={};t={}", d.remaining,
                                                        seconds_until(d.reset_after)));
}

const std::pair<std::string, std::string> www_authenticate{"WWW-Authenticate",
                                                           "ApiKey header=\"X-API-KEY\""};

// Fills in a problem+json body. Callers pass fixed text or validated user names, so nothing here
// needs JSON escaping.
void set_problem(http_reply& reply, int status, std::string_view type, std::string_view title,
                 std::string_view detail) {
    reply.status = status;
    reply.content_type = "application/problem+json";
    reply.body = fmt::format(
        R"({{"type":"urn:ratelimitd:problem:{}","title":"{}","status":{},"detail":"{}"}})", type,
        title, status, detail);
}

}  // namespace

limit_result limit_handler::decide(std::optional<std::string_view> api_key, limiter::time_point now,
                                   common::unix_seconds wall_now) {
    if (!api_key || api_key->empty()) return finish(metrics_, limit_outcome::missing_key);
    if (!common::is_well_formed_key(*api_key)) return finish(metrics_, limit_outcome::invalid_key);
    if (!ready_.load(std::memory_order_acquire)) return finish(metrics_, limit_outcome::not_ready);

    const key_lookup found = keys_.find(common::sha256(*api_key), wall_now);
    if (found.status == key_status::unknown) return finish(metrics_, limit_outcome::invalid_key);
    if (found.status == key_status::expired) return finish(metrics_, limit_outcome::expired_key);
    const user_entry& user = *found.user;
    if (user.disabled.load(std::memory_order_relaxed))
        return finish(metrics_, limit_outcome::user_disabled, {}, &user);

    const limiter::decision d =
        limiter_.decide(user.id, user.limit.load(std::memory_order_relaxed), now);
    return limit_result{d.admitted ? limit_outcome::admitted : limit_outcome::limited, d, &user,
                        usage_event{found.key_id, wall_now, d.admitted}, now};
}

limit_result limit_handler::settle(limit_result result, usage_write usage) {
    if (usage == usage_write::refused && result.outcome == limit_outcome::admitted) {
        limiter_.refund(result.user->id, result.decided_at);
        result.outcome = limit_outcome::storage_unavailable;
    }
    metrics_.count(result.outcome);
    return result;
}

limit_result limit_handler::check(std::optional<std::string_view> api_key, limiter::time_point now,
                                  common::unix_seconds wall_now) {
    limit_result result = decide(api_key, now, wall_now);
    if (!result.needs_usage()) return result;
    thread_local std::vector<usage_event> one(1);
    one[0] = result.usage;
    return settle(result, usage_.record(one));
}

http_reply problem_reply(int status, std::string_view type, std::string_view title,
                         std::string_view detail) {
    http_reply reply;
    set_problem(reply, status, type, title, detail);
    return reply;
}

http_reply render(const limit_result& result) {
    const limiter::decision& d = result.decision;
    http_reply reply;
    reply.headers.reserve(5);  // the most any outcome adds: one allocation, not one per header
    switch (result.outcome) {
        case limit_outcome::admitted:
            reply.status = 200;
            reply.content_type = "application/json";
            reply.body = fmt::format(R"({{"admitted":true,"user":"{}","limit":{},"remaining":{}}})",
                                     result.user->name, d.limit, d.remaining);
            add_ratelimit_headers(reply, d);
            reply.headers.emplace_back("X-RateLimit-User", result.user->name);
            break;
        case limit_outcome::limited: {
            const long long retry = std::max(1LL, seconds_until(d.reset_after));
            set_problem(reply, 429, "rate-limited", "Too many requests",
                        fmt::format("limit of {} requests per second reached; retry in {} s",
                                    d.limit, retry));
            reply.headers.emplace_back("Retry-After", std::to_string(retry));
            add_ratelimit_headers(reply, d);
            break;
        }
        case limit_outcome::missing_key:
            set_problem(reply, 401, "missing-api-key", "Missing API key",
                        "send the API key in the X-API-KEY header");
            reply.headers.push_back(www_authenticate);
            break;
        case limit_outcome::invalid_key:
            set_problem(reply, 401, "invalid-api-key", "Invalid API key",
                        "the API key is unknown, revoked or malformed");
            reply.headers.push_back(www_authenticate);
            break;
        case limit_outcome::expired_key:
            set_problem(reply, 401, "expired-api-key", "Expired API key",
                        "the API key has expired");
            reply.headers.push_back(www_authenticate);
            break;
        case limit_outcome::user_disabled:
            set_problem(reply, 403, "user-disabled", "User disabled",
                        "the user owning this API key is disabled");
            break;
        case limit_outcome::not_ready:
            set_problem(reply, 503, "not-ready", "Not ready", "the key store is still loading");
            reply.headers.emplace_back("Retry-After", "1");
            break;
        case limit_outcome::storage_unavailable:
            set_problem(reply, 503, "storage-unavailable", "Storage unavailable",
                        "usage could not be recorded; the request was not admitted");
            reply.headers.emplace_back("Retry-After", "1");
            break;
    }
    reply.headers.emplace_back("Cache-Control", "no-store");
    return reply;
}

}  // namespace rl::service
