// The Prometheus text, the access log line and the auth-request adaptation, without sockets.

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "service/access_log.hpp"
#include "service/metrics.hpp"
#include "service/public_replies.hpp"

using namespace rl::service;
using namespace std::chrono_literals;

namespace {

bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("decisions are rendered by outcome, 401 and 503 reasons apart") {
    metrics m;
    m.count(limit_outcome::admitted);
    m.count(limit_outcome::admitted);
    m.count(limit_outcome::limited);
    m.count(limit_outcome::missing_key);
    m.count(limit_outcome::expired_key);
    m.count(limit_outcome::user_disabled);
    m.count(limit_outcome::storage_unavailable);
    const std::string text = m.render(gauges{4, 5, 1, 9, 1, true});
    for (const char* expected : {
             "ratelimitd_decisions_total{outcome=\"admitted\"} 2",
             "ratelimitd_decisions_total{outcome=\"limited\"} 1",
             "ratelimitd_decisions_total{outcome=\"unauthorized\"} 2",
             "ratelimitd_decisions_total{outcome=\"forbidden\"} 1",
             "ratelimitd_unauthorized_total{reason=\"expired_key\"} 1",
             "ratelimitd_unavailable_total{reason=\"storage_error\"} 1",
         }) {
        INFO(expected);
        REQUIRE(has_line(text, expected));
    }
    REQUIRE(text.find("outcome=\"unavailable\"") == std::string::npos);
    for (const char* expected : {
             "ratelimitd_keys_loaded 5",
             "ratelimitd_usage_write_errors_total 1",
             "# TYPE ratelimitd_request_duration_seconds histogram",
         }) {
        INFO(expected);
        REQUIRE(has_line(text, expected));
    }
}

TEST_CASE("shadow-limited decisions are their own outcome, shown at 0 from the start") {
    metrics m;
    REQUIRE(
        has_line(m.render(gauges{}), "ratelimitd_decisions_total{outcome=\"shadow_limited\"} 0"));
    m.count(limit_outcome::shadow_limited);
    m.count(limit_outcome::shadow_limited);
    m.count(limit_outcome::admitted);
    m.count(limit_outcome::limited);
    const std::string text = m.render(gauges{});
    CHECK(has_line(text, "ratelimitd_decisions_total{outcome=\"shadow_limited\"} 2"));
    CHECK(has_line(text, "ratelimitd_decisions_total{outcome=\"admitted\"} 1"));
    CHECK(has_line(text, "ratelimitd_decisions_total{outcome=\"limited\"} 1"));
    CHECK(m.decisions(limit_outcome::shadow_limited) == 2);
    CHECK(names_of(limit_outcome::shadow_limited).outcome == "shadow_limited");
    CHECK(names_of(limit_outcome::shadow_limited).reason == nullptr);
    // Every outcome keeps its own name after the new one.
    CHECK(names_of(limit_outcome::missing_key).outcome == "unauthorized");
    CHECK(names_of(limit_outcome::repeated_key).outcome == "bad_request");
}

TEST_CASE("latencies land in cumulative buckets; sum and count follow") {
    metrics m;
    m.observe_latency(30us);   // <= 50 µs
    m.observe_latency(50us);   // on the bound: still <= 50 µs
    m.observe_latency(700us);  // <= 1 ms
    m.observe_latency(3s);     // past every bound
    const std::string text = m.render(gauges{});
    for (const char* expected : {
             "ratelimitd_request_duration_seconds_bucket{le=\"5e-05\"} 2",
             "ratelimitd_request_duration_seconds_bucket{le=\"0.0005\"} 2",
             "ratelimitd_request_duration_seconds_bucket{le=\"0.001\"} 3",
             "ratelimitd_request_duration_seconds_bucket{le=\"1\"} 3",
             "ratelimitd_request_duration_seconds_bucket{le=\"+Inf\"} 4",
             "ratelimitd_request_duration_seconds_count 4",
             "ratelimitd_request_duration_seconds_sum 3.00078",
         }) {
        INFO(expected);
        REQUIRE(has_line(text, expected));
    }
    REQUIRE(m.latency_count() == 4);
}

TEST_CASE("an access line is one JSON object with the key_id, escaped, never more") {
    std::string line;
    access_entry e;
    e.unix_ms = 1'795'822'914'123;
    e.remote = "127.0.0.1:5000";
    e.method = "GET";
    e.path = "/limit/a\"b\\c\x01";
    e.status = 429;
    e.outcome = limit_outcome::limited;
    e.key_id = 0x106a61a0bced9a57;
    e.user = "alice";
    e.latency_us = 87;
    append_access_line(line, e);
    REQUIRE(line ==
            "{\"time\":\"2026-11-27T23:41:54.123Z\",\"remote\":\"127.0.0.1:5000\",\"method\":"
            "\"GET\",\"path\":\"/limit/a\\\"b\\\\c\\u0001\",\"status\":429,\"outcome\":\"limited\","
            "\"reason\":null,\"key_id\":\"106a61a0bced9a57\",\"user\":\"alice\",\"latency_us\":87}"
            "\n");
    line.clear();
    e.outcome = limit_outcome::missing_key;
    e.key_id = 0;
    e.user = {};
    append_access_line(line, e);
    REQUIRE(line.find("\"reason\":\"missing_key\",\"key_id\":null,\"user\":null") !=
            std::string::npos);
    line.clear();
    e.status = 200;
    e.outcome = limit_outcome::shadow_limited;
    append_access_line(line, e);
    REQUIRE(line.find("\"status\":200,\"outcome\":\"shadow_limited\",\"reason\":null") !=
            std::string::npos);
}

TEST_CASE("auth-request mode: 429 and 503 become 403 with the real status beside them") {
    http_reply limited{429, "application/problem+json", {{"Retry-After", "1"}}, "{}"};
    adapt_for_auth_request(limited);
    REQUIRE(limited.status == 403);
    REQUIRE(limited.headers.size() == 2);
    REQUIRE(limited.headers.begin()->first == "Retry-After");
    REQUIRE(limited.headers.find("X-RateLimit-Status") == "429");

    http_reply unauthorized{401, "application/problem+json", {}, "{}"};
    adapt_for_auth_request(unauthorized);
    REQUIRE(unauthorized.status == 401);

    http_reply disabled{403, "application/problem+json", {}, "{}"};
    adapt_for_auth_request(disabled);
    REQUIRE(disabled.status == 403);
    REQUIRE(disabled.headers.find("X-RateLimit-Status") == "403");

    http_reply admitted{200, "application/json", {}, "{}"};
    adapt_for_auth_request(admitted);
    REQUIRE(admitted.status == 200);
    REQUIRE(admitted.headers.empty());
}

TEST_CASE("counts from many threads, each on its own shard, add up exactly") {
    metrics m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 20; ++t)  // more threads than shards: some share one
        threads.emplace_back([&m] {
            for (int i = 0; i < 1000; ++i) {
                m.count(limit_outcome::limited);
                m.observe_latency(100us);
            }
        });
    for (auto& t : threads) t.join();
    REQUIRE(m.decisions(limit_outcome::limited) == 20'000);
    REQUIRE(m.latency_count() == 20'000);
    const std::string text = m.render(gauges{});
    REQUIRE(has_line(text, "ratelimitd_decisions_total{outcome=\"limited\"} 20000"));
    REQUIRE(has_line(text, "ratelimitd_request_duration_seconds_bucket{le=\"5e-05\"} 0"));
    REQUIRE(has_line(text, "ratelimitd_request_duration_seconds_bucket{le=\"0.0001\"} 20000"));
    REQUIRE(has_line(text, "ratelimitd_request_duration_seconds_sum 2"));
}
