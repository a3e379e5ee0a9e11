// /limit without sockets: the key index, limiter and usage recorder wired as in the server.

#include <catch2/catch.hpp>

#include "service/public_routes.hpp"
#include "tests/service/handler_fixture.hpp"

using namespace rl;
using service::limit_outcome;

namespace {

struct harness : testing::handler_fixture {
    service::limit_result check(std::optional<std::string_view> key,
                                std::chrono::milliseconds at = {}) {
        return handler.check(key, t0 + at, wall);
    }
};

}  // namespace

TEST_CASE("no key and malformed keys are refused without a lookup") {
    harness h;
    REQUIRE(h.check(std::nullopt).outcome == limit_outcome::missing_key);
    REQUIRE(h.check("").outcome == limit_outcome::missing_key);
    REQUIRE(h.check("has space").outcome == limit_outcome::invalid_key);
    REQUIRE(h.check(std::string(257, 'a')).outcome == limit_outcome::invalid_key);
    REQUIRE(h.check("unknown-key").outcome == limit_outcome::invalid_key);
    REQUIRE(h.counters.decisions(limit_outcome::invalid_key) == 3);
}

TEST_CASE("until the keys are loaded, known-looking keys get 503 but missing keys still 401") {
    harness h;
    const auto key = h.key_for("a", 1);
    h.ready = false;
    REQUIRE(h.check(key).outcome == limit_outcome::not_ready);
    REQUIRE(h.check(std::nullopt).outcome == limit_outcome::missing_key);
}

TEST_CASE("admits up to the limit, then limits, and counts usage for both") {
    harness h;
    const auto key = h.key_for("a", 2);
    REQUIRE(h.check(key).outcome == limit_outcome::admitted);
    REQUIRE(h.check(key, std::chrono::milliseconds(10)).outcome == limit_outcome::admitted);
    const auto limited = h.check(key, std::chrono::milliseconds(20));
    REQUIRE(limited.outcome == limit_outcome::limited);
    REQUIRE(limited.decision.retry_after == std::chrono::milliseconds(980));
    REQUIRE(h.check(key, std::chrono::milliseconds(1000)).outcome == limit_outcome::admitted);

    storage::usage_count total;
    h.store->usage().scan({storage::usage_resolution::second, h.wall_s, h.wall_s + 1},
                          [&](const storage::usage_bucket& b) { total += b.count; });
    REQUIRE(total.admitted == 3);
    REQUIRE(total.limited == 1);
}

TEST_CASE("disabled users are forbidden; expired keys are their own outcome") {
    harness h;
    const auto key = h.key_for("a", 5);
    REQUIRE(h.catalog.update_user("a", std::nullopt, true).succeeded());
    REQUIRE(h.check(key).outcome == limit_outcome::user_disabled);

    REQUIRE(h.catalog.create_user("b", std::nullopt).succeeded());
    const auto expiring = h.catalog.create_key("b", "", common::wall_now() + 10).value->key;
    const auto now = std::chrono::system_clock::now();
    REQUIRE(h.handler.check(expiring, h.t0, now).outcome == limit_outcome::admitted);
    REQUIRE(h.handler.check(expiring, h.t0, now + std::chrono::seconds(10)).outcome ==
            limit_outcome::expired_key);
}

TEST_CASE("replies carry the SPEC's statuses and headers and never the key") {
    harness h;
    const auto key = h.key_for("alice", 1);
    auto header = [](const service::http_reply& r, const std::string& name) {
        return std::string(r.headers.find(name).value_or(""));
    };
    const auto ok = service::render(h.check(key));
    REQUIRE(ok.status == 200);
    REQUIRE(header(ok, "X-RateLimit-User") == "alice");
    REQUIRE(header(ok, "RateLimit") == "\"default\";r=0;t=1");
    const auto limited = service::render(h.check(key, std::chrono::milliseconds(400)));
    REQUIRE(limited.status == 429);
    REQUIRE(header(limited, "Retry-After") == "1");
    REQUIRE(limited.content_type == "application/problem+json");
    const auto missing = service::render(h.check(std::nullopt));
    REQUIRE(missing.status == 401);
    REQUIRE(header(missing, "WWW-Authenticate") == "ApiKey header=\"X-API-KEY\"");
    for (const auto& reply : {ok, limited}) {
        REQUIRE(reply.body.find(key) == std::string::npos);
        for (const auto& [n, v] : reply.headers) REQUIRE(v.find(key) == std::string::npos);
    }
}

TEST_CASE("deleting a user drops their keys from the index; re-creating keeps their window") {
    harness h;
    const auto key = h.key_for("a", 1);
    REQUIRE(h.check(key).outcome == limit_outcome::admitted);
    REQUIRE(h.catalog.delete_user("a").succeeded());
    REQUIRE(h.check(key).outcome == limit_outcome::invalid_key);
    REQUIRE(h.keys.user_count() == 0);
    REQUIRE(h.catalog.create_user("a", 1).succeeded());
    const auto fresh = h.catalog.create_key("a", "", 0).value->key;
    REQUIRE(h.check(fresh, std::chrono::milliseconds(100)).outcome == limit_outcome::limited);
    REQUIRE(h.keys.user_count() == 1);
}

namespace {

service::public_answer answer(harness& h, const std::string& target,
                              const std::vector<std::pair<std::string, std::string>>& fields) {
    restinio::http_request_header_t request{restinio::http_method_get(), target};
    for (const auto& [name, value] : fields) request.add_field(name, value);
    return service::answer_public(h.handler, request, h.t0, h.wall);
}

}  // namespace

TEST_CASE("public routes: one X-API-KEY is decided, two are a 400 whatever their values") {
    harness h;
    const auto key = h.key_for("a", 5);

    const auto one = answer(h, "/limit?x=1", {{"x-api-key", key}});
    REQUIRE_FALSE(one.reply);
    REQUIRE(one.decision.outcome == limit_outcome::admitted);

    for (const auto& second : {key, std::string("other"), std::string()}) {
        const auto two = answer(h, "/limit", {{"X-API-KEY", key}, {"X-Api-Key", second}});
        REQUIRE(two.reply);
        REQUIRE(two.reply->status == 400);
        REQUIRE(two.reply->body.find("repeated-api-key") != std::string::npos);
        REQUIRE(two.reply->body.find(key) == std::string::npos);
    }
    REQUIRE(h.counters.decisions(limit_outcome::repeated_key) == 3);
    REQUIRE(h.counters.decisions(limit_outcome::admitted) == 0);  // the pending one is unsettled
}

TEST_CASE("public routes: health, readiness and unknown paths") {
    harness h;
    REQUIRE(answer(h, "/healthz", {}).reply->status == 200);
    REQUIRE(answer(h, "/readyz", {}).reply->status == 200);
    h.ready = false;
    REQUIRE(answer(h, "/readyz", {}).reply->status == 503);
    REQUIRE(answer(h, "/limits", {}).reply->status == 404);
    REQUIRE(answer(h, "/", {{"X-API-KEY", "k"}}).reply->status == 404);
}

TEST_CASE("public routes: a 429 is answered at once and still carries its count") {
    harness h;
    const auto key = h.key_for("a", 1);
    REQUIRE(h.check(key).outcome == limit_outcome::admitted);

    const auto limited = answer(h, "/limit", {{"X-API-KEY", key}});
    REQUIRE(limited.reply);
    REQUIRE(limited.reply->status == 429);
    REQUIRE(limited.decision.needs_usage());
    REQUIRE(limited.decision.usage.kind == service::usage_kind::limited);
    REQUIRE(h.counters.decisions(limit_outcome::limited) == 1);  // final: nothing to settle
    REQUIRE(h.handler.settle(limited.decision, service::usage_write::refused).outcome ==
            limit_outcome::limited);
    REQUIRE(h.counters.decisions(limit_outcome::limited) == 1);
}
