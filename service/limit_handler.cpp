#include "service/limit_handler.hpp"

#include <charconv>

namespace rl::service {

namespace {

// A result that is final at once (no usage to write).
limit_result finish(metrics& m, limit_outcome outcome, const limiter::decision& d = {},
                    const user_entry* user = nullptr, std::uint64_t key_id = 0) {
    m.count(outcome);
    return {outcome, d, user, usage_event{key_id, 0, false}};
}

// Whole seconds, rounded up, until quota frees: what Retry-After and `t` promise.
long long seconds_until(std::chrono::nanoseconds d) {
    const auto ns = d.count();
    return ns <= 0 ? 0 : (ns + 999'999'999) / 1'000'000'000;
}

// Builds header values and bodies by appending pieces: render runs once per request, and this
// costs a third of fmt::format's time with its format-string parsing (bench/micro_bench render).
class text {
public:
    explicit text(std::size_t capacity) { out_.reserve(capacity); }
    text& operator<<(std::string_view piece) {
        out_.append(piece);
        return *this;
    }
    text& operator<<(long long number) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
        out_.append(digits, end);
        return *this;
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

void add_ratelimit_headers(http_reply& reply, const limiter::decision& d) {
    reply.headers.emplace_back("RateLimit-Policy",
                               (text(32) << "\"default\";q=" << d.limit << ";w=1").take());
    reply.headers.emplace_back("RateLimit", (text(32) << "\"default\";r=" << d.remaining
                                                      << ";t=" << seconds_until(d.reset_after))
                                                .take());
}

const std::pair<std::string, std::string> www_authenticate{"WWW-Authenticate",
                                                           "ApiKey header=\"X-API-KEY\""};

// Fills in a problem+json body. Callers pass fixed text or validated user names, so nothing here
// needs JSON escaping.
void set_problem(http_reply& reply, int status, std::string_view type, std::string_view title,
                 std::string_view detail) {
    reply.status = status;
    reply.content_type = "application/problem+json";
    reply.body = (text(96 + type.size() + title.size() + detail.size())
                  << R"({"type":"urn:ratelimitd:problem:)" << type << R"(","title":")" << title
                  << R"(","status":)" << status << R"(,"detail":")" << detail << R"("})")
                     .take();
}

}  // namespace

limit_result limit_handler::decide(std::optional<std::string_view> api_key, limiter::time_point now,
                                   common::unix_seconds wall_now) {
    if (!api_key || api_key->empty()) return finish(metrics_, limit_outcome::missing_key);
    if (!common::is_well_formed_key(*api_key)) return finish(metrics_, limit_outcome::invalid_key);
    if (!ready_.load(std::memory_order_acquire)) return finish(metrics_, limit_outcome::not_ready);

    const key_lookup found = keys_.find(common::sha256(*api_key), wall_now);
    if (found.status == key_status::unknown) return finish(metrics_, limit_outcome::invalid_key);
    if (found.status == key_status::expired)
        return finish(metrics_, limit_outcome::expired_key, {}, nullptr, found.key_id);
    const user_entry& user = *found.user;
    if (user.disabled.load(std::memory_order_relaxed))
        return finish(metrics_, limit_outcome::user_disabled, {}, &user, found.key_id);

    const limiter::decision d =
        limiter_.decide(user.id, user.limit.load(std::memory_order_relaxed), now);
    return limit_result{d.admitted ? limit_outcome::admitted : limit_outcome::limited, d, &user,
                        usage_event{found.key_id, wall_now, d.admitted}, now};
}

limit_result limit_handler::refuse_repeated_key() {
    return finish(metrics_, limit_outcome::repeated_key);
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

void adapt_for_auth_request(http_reply& reply) {
    if (reply.status < 300) return;
    reply.headers.emplace_back("X-RateLimit-Status", std::to_string(reply.status));
    if (reply.status != 401 && reply.status != 403) reply.status = 403;
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
            reply.body = (text(64 + result.user->name.size())
                          << R"({"admitted":true,"user":")" << result.user->name << R"(","limit":)"
                          << d.limit << R"(,"remaining":)" << d.remaining << "}")
                             .take();
            add_ratelimit_headers(reply, d);
            reply.headers.emplace_back("X-RateLimit-User", result.user->name);
            break;
        case limit_outcome::limited: {
            const long long retry = std::max(1LL, seconds_until(d.reset_after));
            set_problem(reply, 429, "rate-limited", "Too many requests",
                        (text(64) << "limit of " << d.limit
                                  << " requests per second reached; retry in " << retry << " s")
                            .take());
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
        case limit_outcome::repeated_key:
            set_problem(reply, 400, "repeated-api-key", "More than one API key",
                        "send exactly one X-API-KEY header");
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
