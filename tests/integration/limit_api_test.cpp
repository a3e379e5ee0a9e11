// /limit over real HTTP: every case of the SPEC table, exactness under concurrency, and admin
// changes taking effect at once.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <thread>

#include "tests/integration/fixture.hpp"
#include "tests/support/admit_log.hpp"

using nlohmann::json;
using rl::testing::http_request;
using rl::testing::http_response;
using rl::testing::live_server;

namespace {

void require_problem(const http_response& r, int status, const std::string& type_suffix) {
    REQUIRE(r.status == status);
    REQUIRE(r.header("content-type") == "application/problem+json");
    const json body = json::parse(r.body);
    REQUIRE(body.at("status") == status);
    REQUIRE(body.at("title").is_string());
    REQUIRE(body.at("detail").is_string());
    const std::string type = body.at("type");
    REQUIRE(type.size() >= type_suffix.size());
    REQUIRE(type.compare(type.size() - type_suffix.size(), type_suffix.size(), type_suffix) == 0);
}

void require_unauthorized(const http_response& r, const std::string& type_suffix) {
    require_problem(r, 401, type_suffix);
    REQUIRE(r.header("www-authenticate") == "ApiKey header=\"X-API-KEY\"");
}

void require_no_key_echo(const http_response& r, const std::string& key) {
    REQUIRE(r.body.find(key) == std::string::npos);
    for (const auto& [name, value] : r.headers) REQUIRE(value.find(key) == std::string::npos);
}

}  // namespace

TEST_CASE("a request without a key, or with an empty one, is 401 with WWW-Authenticate") {
    live_server server;
    const auto url = server.process().public_url() + "/limit";
    require_unauthorized(http_request("GET", url), "missing-api-key");
    require_unauthorized(http_request("GET", url, {"X-API-KEY;"}), "missing-api-key");
}

TEST_CASE("unknown, malformed and revoked keys are 401") {
    live_server server;
    server.create_user("alice");
    require_unauthorized(server.limit("rl_0000000000_doesnotexist"), "invalid-api-key");
    require_unauthorized(server.limit(std::string(300, 'k')), "invalid-api-key");

    const std::string key = server.create_key("alice");
    REQUIRE(server.limit(key).status == 200);
    const auto keys = server.admin("GET", "/v1/keys?user=alice").body.at("keys");
    REQUIRE(keys.size() == 1);
    const std::string key_id = keys[0].at("key_id");
    REQUIRE(server.admin("POST", "/v1/keys/" + key_id + "/revoke").status == 200);
    // Revocation takes effect on the very next request.
    const auto after = server.limit(key);
    require_unauthorized(after, "invalid-api-key");
    require_no_key_echo(after, key);
}

TEST_CASE("an expired key is 401 with its own problem type") {
    live_server server;
    server.create_user("bob");
    const std::string key = server.create_key("bob", "1s");
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    require_unauthorized(server.limit(key), "expired-api-key");
}

TEST_CASE("a disabled user is 403 at once, and admitted again once enabled") {
    live_server server;
    server.create_user("carol");
    const std::string key = server.create_key("carol");
    REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.admin("PATCH", "/v1/users/carol", {{"disabled", true}}).status == 200);
    const auto denied = server.limit(key);
    require_problem(denied, 403, "user-disabled");
    REQUIRE_FALSE(denied.has_header("www-authenticate"));
    REQUIRE(server.admin("PATCH", "/v1/users/carol", {{"disabled", false}}).status == 200);
    REQUIRE(server.limit(key).status == 200);
}

TEST_CASE("admitted requests carry RateLimit headers and the user; the L+1th is 429") {
    live_server server;
    server.create_user("dave", 3);
    const std::string key = server.create_key("dave");
    for (int i = 0; i < 3; ++i) {
        const auto r = server.limit(key, i == 1 ? "POST" : "GET");  // any method works
        REQUIRE(r.status == 200);
        REQUIRE(r.header("content-type") == "application/json");
        REQUIRE(r.header("x-ratelimit-user") == "dave");
        REQUIRE(r.header("ratelimit-policy") == "\"default\";q=3;w=1");
        REQUIRE(r.header("ratelimit") == "\"default\";r=" + std::to_string(2 - i) + ";t=1");
        REQUIRE(json::parse(r.body).at("user") == "dave");
        require_no_key_echo(r, key);
    }
    const auto limited = server.limit(key, "DELETE");
    require_problem(limited, 429, "rate-limited");
    REQUIRE(std::stoi(limited.header("retry-after")) >= 1);
    REQUIRE(limited.header("ratelimit-policy") == "\"default\";q=3;w=1");
    REQUIRE(limited.header("ratelimit").rfind("\"default\";r=0;t=", 0) == 0);
    require_no_key_echo(limited, key);
}

TEST_CASE("the default limit is 10 and --default-limit changes it") {
    live_server standard;
    standard.create_user("erin");
    const std::string key = standard.create_key("erin");
    rl::testing::require_limit_held(standard.burst(key, 12), 10);

    live_server custom({"--default-limit", "4"});
    custom.create_user("erin");
    rl::testing::require_limit_held(custom.burst(custom.create_key("erin"), 6), 4);
}

TEST_CASE("40 concurrent requests over two keys of one user admit exactly 10") {
    live_server server({"--threads", "4"});
    server.create_user("frank");
    const std::string keys[2] = {server.create_key("frank"), server.create_key("frank")};

    std::mutex mutex;
    std::condition_variable go;
    bool started = false;
    std::atomic<int> admitted{0}, limited{0}, other{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 40; ++i) {
        clients.emplace_back([&, i] {
            {
                std::unique_lock lock(mutex);
                go.wait(lock, [&] { return started; });
            }
            const int status = server.limit(keys[i % 2]).status;
            (status == 200 ? admitted : status == 429 ? limited : other)++;
        });
    }
    const auto begin = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex);
        started = true;
    }
    go.notify_all();
    for (auto& t : clients) t.join();
    const auto elapsed = std::chrono::steady_clock::now() - begin;

    REQUIRE(other == 0);
    REQUIRE(admitted + limited == 40);
    if (elapsed < std::chrono::seconds(1)) {
        REQUIRE(admitted == 10);
    } else {
        // On a very slow machine the burst can straddle two windows; never more than that.
        WARN("the burst took longer than a second");
        REQUIRE(admitted >= 10);
        REQUIRE(admitted <=
                10 * (1 + std::chrono::duration_cast<std::chrono::seconds>(elapsed).count()));
    }

    const auto usage = server.admin("GET", "/v1/usage?user=frank&since=5m");
    REQUIRE(usage.body.at("total").at("allowed") == admitted.load());
    REQUIRE(usage.body.at("total").at("rejected") == limited.load());
}

TEST_CASE("a user's limit is shared by all their keys and separate from other users") {
    live_server server;
    server.create_user("gina", 2);
    server.create_user("hank", 2);
    const std::string g1 = server.create_key("gina"), g2 = server.create_key("gina");
    const std::string h1 = server.create_key("hank");
    REQUIRE(server.limit(g1).status == 200);
    REQUIRE(server.limit(g2).status == 200);
    REQUIRE(server.limit(g1).status == 429);
    REQUIRE(server.limit(g2).status == 429);
    REQUIRE(server.limit(h1).status == 200);
}

TEST_CASE("a limit change applies to the next request") {
    live_server server;
    server.create_user("ivy", 1);
    const std::string key = server.create_key("ivy");
    REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.limit(key).status == 429);
    REQUIRE(server.admin("PATCH", "/v1/users/ivy", {{"limit", 3}}).status == 200);
    REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.limit(key).status == 429);
}

TEST_CASE("the window slides: quota returns one second after it was used") {
    live_server server;
    server.create_user("jack", 2);
    const std::string key = server.create_key("jack");
    REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.limit(key).status == 200);
    REQUIRE(server.limit(key).status == 429);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    REQUIRE(server.limit(key).status == 200);
}

TEST_CASE("health, readiness and unknown paths on the public port") {
    live_server server;
    const auto base = server.process().public_url();
    REQUIRE(http_request("GET", base + "/healthz").status == 200);
    REQUIRE(http_request("GET", base + "/readyz").status == 200);
    require_problem(http_request("GET", base + "/nope"), 404, "not-found");
    require_problem(http_request("GET", base + "/v1/users"), 404, "not-found");
}

TEST_CASE("HEAD gets the headers without a body, so a pipelined request after it is intact") {
    live_server server;
    server.create_user("kim");
    const std::string key = server.create_key("kim");
    const std::string answer = rl::testing::raw_exchange(
        server.process().public_port(), "HEAD /limit HTTP/1.1\r\nHost: t\r\nX-API-KEY: " + key +
                                            "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto second = answer.find("HTTP/1.1", 1);
    REQUIRE(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    REQUIRE(answer.find("X-RateLimit-User: kim") < second);
    // Nothing between the first reply's blank line and the second status line.
    REQUIRE(answer.find("\r\n\r\n") + 4 == second);
    REQUIRE(answer.substr(second).find("{\"status\":\"ok\"}") != std::string::npos);
}

TEST_CASE("sustained concurrent load over several keys per user never exceeds any user's limit") {
    live_server server({"--threads", "4"});
    constexpr int users = 3, keys_per_user = 3, limit = 20, clients = 24;
    std::vector<std::string> keys;  // keys[u * keys_per_user + k]
    for (int u = 0; u < users; ++u) {
        server.create_user("load" + std::to_string(u), limit);
        for (int k = 0; k < keys_per_user; ++k)
            keys.push_back(server.create_key("load" + std::to_string(u)));
    }

    using clock = std::chrono::steady_clock;
    std::mutex mutex;
    std::vector<std::vector<rl::testing::timed_admit>> admits(users);
    std::atomic<int> unexpected{0};
    const auto start = clock::now();
    const auto stop = start + std::chrono::milliseconds(2500);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            rl::testing::http_session session;
            const std::string url = server.process().public_url() + "/limit";
            for (int i = c; clock::now() < stop; i += clients) {
                const int index = i % static_cast<int>(keys.size());
                const auto sent = clock::now();
                const int status = session.get_status(url, "X-API-KEY: " + keys[index]);
                const auto answered = clock::now();
                if (status == 200) {
                    std::lock_guard lock(mutex);
                    admits[index / keys_per_user].push_back({sent, answered});
                } else if (status != 429) {
                    ++unexpected;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();

    REQUIRE(unexpected == 0);
    for (int u = 0; u < users; ++u) {
        auto& list = admits[u];
        INFO("user " << u << ": " << list.size() << " admitted in " << seconds << " s");
        REQUIRE(list.size() >= static_cast<std::size_t>(limit));
        REQUIRE(list.size() <= static_cast<std::size_t>(limit * (std::ceil(seconds) + 1)));
        REQUIRE(rl::testing::proven_excess(list, limit) == 0);
    }
    // And by wall-clock second, as counted in storage: no second holds more than the limit.
    for (int u = 0; u < users; ++u) {
        const auto usage =
            server.admin("GET", "/v1/usage?user=load" + std::to_string(u) + "&since=5m&step=1s");
        for (const auto& bucket : usage.body.at("buckets")) REQUIRE(bucket.at("allowed") <= limit);
        REQUIRE(usage.body.at("total").at("allowed") == admits[u].size());
    }
}
