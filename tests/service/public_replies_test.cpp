// The reply to each /limit outcome as the public port sends it, shadow mode's included.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "service/public_replies.hpp"
#include "tests/service/handler_fixture.hpp"

using namespace rl;
using service::limit_outcome;

namespace {

std::string header(const service::http_reply& r, std::string_view name) {
    return std::string(r.headers.find(name).value_or("(none)"));
}

}  // namespace

TEST_CASE("a shadow-limited request is answered like an admit, plus X-RateLimit-Shadow") {
    testing::handler_fixture h;
    const auto key = h.key_for("alice", 1);
    const auto admitted = h.handler.check(key, h.t0, h.wall);
    REQUIRE(admitted.outcome == limit_outcome::admitted);
    const auto limited = h.handler.decide(key, h.t0 + std::chrono::milliseconds(400), h.wall);
    const auto shadow = h.as_shadow(limited);

    // Compared with the admit of the same decision: only the shadow header differs.
    service::limit_result admit_of_same = shadow;
    admit_of_same.outcome = limit_outcome::admitted;
    const service::http_reply as_admit = service::render(admit_of_same);
    const service::http_reply reply = service::render(shadow);
    CHECK(reply.status == 200);
    CHECK(reply.content_type == "application/json");
    CHECK(reply.body == as_admit.body);
    CHECK(reply.body.find("\"admitted\":true") != std::string::npos);
    CHECK(header(reply, "X-RateLimit-Shadow") == "limited");
    CHECK(header(reply, "X-RateLimit-User") == "alice");
    CHECK(header(reply, "RateLimit") == header(service::render(limited), "RateLimit"));
    CHECK(header(reply, "Retry-After") == "(none)");
    CHECK(reply.headers.size() == as_admit.headers.size() + 1);
    for (const auto& field : as_admit.headers) CHECK(header(reply, field.first) == field.second);

    // Neither a real admit nor a 429 carries the shadow header.
    CHECK(header(service::render(admitted), "X-RateLimit-Shadow") == "(none)");
    CHECK(header(service::render(limited), "X-RateLimit-Shadow") == "(none)");
    CHECK(service::render(limited).status == 429);
}

TEST_CASE("auth-request mode passes a shadow-limited 200 as it is") {
    testing::handler_fixture h;
    const auto key = h.key_for("alice", 1);
    REQUIRE(h.handler.check(key, h.t0, h.wall).outcome == limit_outcome::admitted);
    service::http_reply reply = service::render(h.as_shadow(h.handler.decide(key, h.t0, h.wall)));
    service::adapt_for_auth_request(reply);
    CHECK(reply.status == 200);
    CHECK(header(reply, "X-RateLimit-Status") == "(none)");
    CHECK(header(reply, "X-RateLimit-Shadow") == "limited");
}

TEST_CASE("a shadow-limited result needs usage but, like a 429, never waits for it") {
    testing::handler_fixture h;
    const auto key = h.key_for("alice", 1);
    REQUIRE(h.handler.check(key, h.t0, h.wall).outcome == limit_outcome::admitted);
    const auto shadow = h.as_shadow(h.handler.decide(key, h.t0, h.wall));
    CHECK(shadow.needs_usage());
    CHECK_FALSE(shadow.waits_for_usage());
    CHECK(shadow.usage.kind == service::usage_kind::shadow_limited);
    CHECK(service::usage_kind_of(limit_outcome::shadow_limited) ==
          service::usage_kind::shadow_limited);
    CHECK(service::usage_kind_of(limit_outcome::limited) == service::usage_kind::limited);
    CHECK(service::usage_kind_of(limit_outcome::admitted) == service::usage_kind::admitted);
    // Final at once: even a refused usage write leaves it a 200, and nothing is refunded.
    const auto settled = h.handler.settle(shadow, service::usage_write::refused);
    CHECK(settled.outcome == limit_outcome::shadow_limited);
    CHECK(h.counters.decisions(limit_outcome::storage_unavailable) == 0);
    CHECK(h.handler.decide(key, h.t0, h.wall).outcome == limit_outcome::limited);
}

TEST_CASE("header fields are kept as the lines they are sent as, in the order added") {
    service::header_fields fields;
    CHECK(fields.empty());
    CHECK(fields.wire().empty());
    CHECK_FALSE(fields.find("Retry-After"));
    fields.add("RateLimit-Policy", "\"default\";q=10;w=1");
    fields.add_with("Retry-After", [](service::text& value) { value << 12LL; });
    fields.add("X-Empty", "");
    // Past the first growth of the buffer (256 bytes), nothing earlier is lost.
    const std::string long_value(300, 'v');
    fields.add("X-Long", long_value);
    CHECK(fields.size() == 4);
    CHECK(fields.wire() ==
          "RateLimit-Policy: \"default\";q=10;w=1\r\nRetry-After: 12\r\nX-Empty: \r\nX-Long: " +
              long_value + "\r\n");
    CHECK(fields.find("Retry-After") == "12");
    CHECK(fields.find("X-Empty") == "");
    CHECK(fields.find("X-Long") == long_value);
    CHECK_FALSE(fields.find("retry-after"));  // every name is ours: compared exactly
    std::vector<std::string> seen;
    for (const auto& [name, value] : fields)
        seen.push_back(std::string(name) + "=" + std::string(value));
    CHECK(seen == std::vector<std::string>{"RateLimit-Policy=\"default\";q=10;w=1",
                                           "Retry-After=12", "X-Empty=", "X-Long=" + long_value});

    const service::header_fields listed{{"A", "1"}, {"B", "2"}};
    CHECK(listed.wire() == "A: 1\r\nB: 2\r\n");
}

TEST_CASE("text grows past its first estimate without losing what it holds") {
    service::text out(4);
    out << "abc" << -1234567890123LL << std::string_view("") << "xyz";
    CHECK(out.size() == 20);
    CHECK(out.view() == "abc-1234567890123xyz");
    CHECK(out.take() == "abc-1234567890123xyz");
    service::text none;
    CHECK(none.take().empty());
}
