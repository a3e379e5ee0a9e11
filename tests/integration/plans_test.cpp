// Plans on a real server: several windows held at once under concurrent load over several keys
// (proved from the client's side), a day quota across kill -9, shadow mode, and a plan change
// that keeps what the windows hold.

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/integration/fixture.hpp"
#include "tests/support/admit_log.hpp"

using nlohmann::json;
using rl::testing::live_server;
using rl::testing::timed_admit;

namespace {

using clock = std::chrono::steady_clock;

void create_plan(live_server& server, const std::string& name, const json& limits,
                 bool shadow = false) {
    const auto r =
        server.admin("POST", "/v1/plans", {{"name", name}, {"limits", limits}, {"shadow", shadow}});
    INFO(r.body.dump());
    REQUIRE(r.status == 201);
}

void create_follower(live_server& server, const std::string& user, const std::string& plan) {
    const auto r = server.admin("POST", "/v1/users", {{"name", user}, {"plan", plan}});
    INFO(r.body.dump());
    REQUIRE(r.status == 201);
}

// The most a greedy client can have admitted in `seconds` under 1s:5 and 10s:20: bursts of 5
// at the start of each of the first four seconds of every ten.
int most_under_1s5_10s20(double seconds) {
    int most = 0;
    for (int ten = 0; ten * 10 < seconds; ++ten)
        most += 5 * std::min(4, static_cast<int>(std::ceil(seconds - ten * 10)));
    return most;
}

// The day in UTC, to tell whether a test ran across midnight (its quota then starts again).
std::int64_t utc_day() {
    return std::chrono::duration_cast<std::chrono::hours>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() /
           24;
}

}  // namespace

TEST_CASE("1s:5 and 10s:20 over 8 connections and 3 keys of one user: no window over its quota") {
    live_server server;
    create_plan(server, "tight", json::array({"1s:5", "10s:20"}));
    create_follower(server, "busy", "tight");
    std::vector<std::string> keys;
    for (int i = 0; i < 3; ++i) keys.push_back(server.create_key("busy"));

    std::mutex mutex;
    std::vector<timed_admit> admits;
    std::atomic<int> unexpected{0}, limited{0};
    const auto start = clock::now();
    const auto stop = start + std::chrono::seconds(12);
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c)
        clients.emplace_back([&, c] {
            rl::testing::http_session session;
            const std::string url = server.process().public_url() + "/limit";
            for (std::size_t i = static_cast<std::size_t>(c); clock::now() < stop; ++i) {
                const auto sent = clock::now();
                const int status = session.get_status(url, "X-API-KEY: " + keys[i % keys.size()]);
                const auto answered = clock::now();
                if (status == 200) {
                    std::lock_guard lock(mutex);
                    admits.push_back({sent, answered});
                } else if (status == 429) {
                    ++limited;
                } else {
                    ++unexpected;
                }
            }
        });
    for (auto& t : clients) t.join();
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();

    INFO(admits.size() << " admitted, " << limited << " limited in " << seconds << " s");
    REQUIRE(unexpected == 0);
    REQUIRE(limited > 0);
    CHECK(rl::testing::proven_excess(admits, 5, std::chrono::seconds(1)) == 0);
    CHECK(rl::testing::proven_excess(admits, 20, std::chrono::seconds(10)) == 0);
    // Exact, not merely safe: the user gets what the windows allow, less a little for the time
    // requests take to arrive once quota frees.
    const int most = most_under_1s5_10s20(seconds);
    CHECK(static_cast<int>(admits.size()) <= most);
    CHECK(static_cast<double>(admits.size()) >= 0.9 * most_under_1s5_10s20(12));
    // And what storage counted is what was answered.
    const auto usage = server.admin("GET", "/v1/usage?user=busy&since=5m&step=1s");
    REQUIRE(usage.status == 200);
    CHECK(usage.body.at("total").at("allowed") == admits.size());
}

TEST_CASE("a day quota survives kill -9: the day's admits are counted after the restart") {
    live_server server;
    create_plan(server, "daily", json::array({"1s:100", "day:30"}));
    create_follower(server, "payg", "daily");
    const std::string key = server.create_key("payg");
    const auto day = utc_day();
    int admitted = 0;
    for (int i = 0; i < 20; ++i) admitted += server.limit(key).status == 200;
    REQUIRE(admitted == 20);
    server.kill_hard();
    server.start();
    int after = 0, refused = 0;
    std::string retry_after;
    for (int i = 0; i < 20; ++i) {
        const auto r = server.limit(key);
        after += r.status == 200;
        if (r.status == 429) {
            ++refused;
            retry_after = r.header("retry-after");
        }
    }
    if (utc_day() != day) {
        WARN("the test ran across 00:00 UTC; the day quota started again");
        return;
    }
    CHECK(after == 10);
    CHECK(refused == 10);
    // Until 00:00 UTC.
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const long long to_midnight = 86400 - now % 86400;
    CHECK(std::llabs(std::stoll(retry_after) - to_midnight) <= 5);
}

TEST_CASE("shadow mode: would-be-limited requests pass, marked, and are counted apart") {
    live_server server;
    create_plan(server, "trial", json::array({"1s:3"}), true);
    create_follower(server, "watched", "trial");
    const std::string key = server.create_key("watched");
    int marked = 0, plain = 0;
    for (int i = 0; i < 10; ++i) {
        const auto r = server.limit(key);
        REQUIRE(r.status == 200);
        (r.header("x-ratelimit-shadow") == "limited" ? marked : plain) += 1;
    }
    // The burst may straddle a window slide: at least 3 went through as admits, and whatever
    // was not admitted was marked.
    CHECK(plain >= 3);
    CHECK(plain + marked == 10);
    CHECK(marked >= 1);
    const auto usage = server.admin("GET", "/v1/usage?user=watched&since=5m&step=1s");
    REQUIRE(usage.status == 200);
    CHECK(usage.body.at("total").at("allowed") == plain);
    CHECK(usage.body.at("total").at("shadow_limited") == marked);
    CHECK(usage.body.at("total").at("rejected") == 0);
    const auto metrics =
        rl::testing::http_request("GET", server.process().admin_url() + "/metrics",
                                  {"Authorization: Bearer " + server.process().admin_token()});
    CHECK(metrics.body.find("ratelimitd_decisions_total{outcome=\"shadow_limited\"} " +
                            std::to_string(marked)) != std::string::npos);

    // Out of shadow mode, the same plan enforces.
    REQUIRE(server.admin("PATCH", "/v1/plans/trial", {{"shadow", false}}).status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    int limited = 0;
    for (int i = 0; i < 10; ++i) limited += server.limit(key).status == 429;
    CHECK(limited >= 1);
}

TEST_CASE("--shadow puts every plan in shadow mode") {
    live_server server({"--shadow", "--default-limit", "2"});
    server.create_user("everyone");
    const std::string key = server.create_key("everyone");
    int marked = 0;
    for (int i = 0; i < 8; ++i) {
        const auto r = server.limit(key);
        REQUIRE(r.status == 200);
        marked += r.header("x-ratelimit-shadow") == "limited";
    }
    CHECK(marked >= 1);
    CHECK(marked <= 6);
}

TEST_CASE("a plan change takes effect at once and keeps what the windows hold") {
    live_server server;
    create_plan(server, "basic", json::array({"1s:50"}));
    create_follower(server, "mover", "basic");
    const std::string key = server.create_key("mover");
    for (int i = 0; i < 10; ++i) REQUIRE(server.limit(key).status == 200);

    // A new 1m window starts from the minute's 10 admits: 2 more, not 12.
    const auto changed = server.admin("PATCH", "/v1/plans/basic", {{"limits", {"1s:50", "1m:12"}}});
    INFO(changed.body.dump());
    REQUIRE(changed.status == 200);
    int admitted = 0;
    for (int i = 0; i < 10; ++i) admitted += server.limit(key).status == 200;
    CHECK(admitted == 2);
    const auto limited = server.limit(key);
    REQUIRE(limited.status == 429);
    CHECK(limited.header("ratelimit-policy").find("\"1m\";q=12;w=60") != std::string::npos);
    const auto body = json::parse(limited.body);
    CHECK(body.at("violated-policies") == json::array({"1m"}));

    // Moving the user to their own limits keeps the 1m window's count too.
    REQUIRE(server.admin("PATCH", "/v1/users/mover", {{"limits", {"1m:13"}}}).status == 200);
    CHECK(server.limit(key).status == 200);
    CHECK(server.limit(key).status == 429);
}

TEST_CASE("deleting a plan that users follow is refused and changes nothing") {
    live_server server;
    create_plan(server, "kept", json::array({"1s:4"}));
    create_follower(server, "loyal", "kept");
    const auto refused = server.admin("DELETE", "/v1/plans/kept");
    CHECK(refused.status == 409);
    CHECK(refused.body.at("detail").get<std::string>().find("follow") != std::string::npos);
    const std::string key = server.create_key("loyal");
    // A policy of one 1-s limit keeps the name it always had.
    CHECK(server.limit(key).header("ratelimit-policy") == "\"default\";q=4;w=1");
}
