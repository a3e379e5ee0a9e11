// Restarts: clean ones keep everything; kill -9 keeps acknowledged usage and never hands a user
// fresh quota.

#include <catch2/catch.hpp>

#include <thread>

#include "tests/integration/fixture.hpp"

using rl::testing::live_server;

TEST_CASE("SIGTERM exits 0, and users, keys, limits and usage survive a restart") {
    live_server server;
    server.create_user("alice", 5);
    const std::string key = server.create_key("alice");
    const auto burst = server.burst(key, 7);
    rl::testing::require_limit_held(burst, 5);

    REQUIRE(server.stop() == 0);
    server.start();

    REQUIRE(server.admin("GET", "/v1/users/alice").body.at("limit") == 5);
    const auto usage = server.admin("GET", "/v1/usage?user=alice&since=10m");
    REQUIRE(usage.body.at("total").at("allowed") == burst.admitted);
    REQUIRE(usage.body.at("total").at("rejected") == 7 - burst.admitted);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    REQUIRE(server.limit(key).status == 200);
}

TEST_CASE("after kill -9 and an immediate restart, a user who spent their quota is still limited") {
    live_server server;
    server.create_user("bob", 5);
    const std::string key = server.create_key("bob");
    for (int i = 0; i < 5; ++i) REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.limit(key).status == 429);

    server.kill_hard();
    const auto restarted_at = std::chrono::steady_clock::now();
    server.start();
    const auto first = server.limit(key);
    // A smoke test: the promise itself is proven on a manual clock in
    // tests/service/restart_restore_test.cpp; here it can only be asserted for a quick restart.
    if (std::chrono::steady_clock::now() - restarted_at < std::chrono::milliseconds(900)) {
        REQUIRE(first.status == 429);
    } else {
        WARN("restart took over 900 ms; the window may have legitimately passed");
    }
    // The limit holds from then on, and the quota comes back within a second or two.
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    REQUIRE(server.limit(key).status == 200);

    // Every acknowledged request was counted before its 200 was sent.
    const auto usage = server.admin("GET", "/v1/usage?user=bob&since=10m");
    const int allowed = usage.body.at("total").at("allowed");
    REQUIRE(allowed == 5 + 1 + (first.status == 200 ? 1 : 0));
}

TEST_CASE("admin changes acknowledged before a kill -9 are there after it") {
    live_server server;
    server.create_user("carol", 7);
    const std::string key = server.create_key("carol");
    REQUIRE(server.admin("PATCH", "/v1/users/carol", {{"limit", 8}}).status == 200);
    server.kill_hard();
    server.start();
    REQUIRE(server.admin("GET", "/v1/users/carol").body.at("limit") == 8);
    REQUIRE(server.limit(key).status == 200);
}
