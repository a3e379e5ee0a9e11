// The fences as arithmetic on a manual clock (cluster/fences.hpp), and /rl/v1/config's JSON.
// The etcd-backed behaviour is in ownership_test.cpp.

#include "cluster/fences.hpp"

#include <catch2/catch.hpp>

#include <set>

#include "cluster/ownership.hpp"

using namespace rl::cluster;
using namespace std::chrono_literals;

namespace {
constexpr boot_ns ms(std::int64_t n) {
    return n * 1'000'000;
}
}  // namespace

TEST_CASE("group word: not owned, owned and fenced, owned and admitting until a boot time") {
    CHECK(group_word::at(group_word::not_owned(), ms(5)) == gate::not_owner);
    CHECK(group_word::at(group_word::owned(0), ms(5)) == gate::fenced);
    const std::uint64_t word = group_word::owned(ms(1000));
    CHECK(group_word::at(word, ms(999)) == gate::admit);
    CHECK(group_word::at(word, ms(1000)) == gate::fenced);
    CHECK(group_word::admit_until(word) == ms(1000));
    CHECK(group_word::at(group_word::owned(-5), 0) == gate::fenced);  // clamped, still owned
}

TEST_CASE("O1 and O4: admit until the earlier of deadline - F and the catalog bound") {
    CHECK(admit_until(ms(3000), 1250ms, no_bound) == ms(1750));
    CHECK(admit_until(ms(3000), 1250ms, ms(1200)) == ms(1200));
    CHECK(admit_until(ms(3000), 0ms, no_bound) == ms(3000));  // fast mode: up to the deadline
}

TEST_CASE("O3: a 200 goes out only within the reply deadline and before deadline - (F - R)") {
    const boot_ns deadline = ms(10'000);
    // Decided at 1000: sendable through 1250, not at 1251.
    CHECK(reply_allowed(ms(1000), ms(1250), deadline, 1250ms, 250ms));
    CHECK_FALSE(reply_allowed(ms(1000), ms(1251), deadline, 1250ms, 250ms));
    // Near the lease's end: nothing after deadline - 1 s, however fresh the decision.
    CHECK(reply_allowed(ms(8900), ms(8999), deadline, 1250ms, 250ms));
    CHECK_FALSE(reply_allowed(ms(8950), ms(9000), deadline, 1250ms, 250ms));
    // Fast mode: O3 is off.
    CHECK(reply_allowed(ms(0), ms(9999), deadline, 0ms, 250ms));
}

TEST_CASE("O1 + O3: the last delivery of a fenced owner is more than F - R before its deadline") {
    // Step a manual clock over every decision an owner can still admit and every send time
    // O3 lets through: none lands at or after deadline - (F - R), where the next owner may start.
    const boot_ns deadline = ms(3000);
    const auto fence = 1250ms;
    const auto reply = 250ms;
    const std::uint64_t word = group_word::owned(admit_until(deadline, fence, no_bound));
    boot_ns last_delivery = -1;
    for (boot_ns d = 0; d < deadline; d += ms(1)) {
        if (group_word::at(word, d) != gate::admit) continue;
        for (boot_ns now = d; now < d + ms(400); now += ms(1))
            if (reply_allowed(d, now, deadline, fence, reply))
                last_delivery = std::max(last_delivery, now);
    }
    REQUIRE(last_delivery >= 0);
    CHECK(deadline - last_delivery > ms(1000));  // the next owner starts at >= deadline
}

TEST_CASE("O4: a revision seen but not applied stops admission lag_stop after it was seen") {
    catalog_lag lag;
    CHECK(lag.bound(1000ms) == no_bound);
    lag.applied(10);
    lag.saw(10, ms(100));  // already applied: no bound
    CHECK(lag.bound(1000ms) == no_bound);
    lag.saw(12, ms(200));
    lag.saw(12, ms(300));  // the same revision again keeps its first sighting
    lag.saw(15, ms(400));
    CHECK(lag.bound(1000ms) == ms(1200));
    lag.applied(12);  // 12 caught up; 15 (seen at 400) still lags
    CHECK(lag.bound(1000ms) == ms(1400));
    lag.applied(20);
    CHECK(lag.bound(1000ms) == no_bound);
}

TEST_CASE("O4: the pending list is bounded and only ever errs towards stopping sooner") {
    catalog_lag lag;
    for (int i = 1; i <= 1000; ++i) lag.saw(i, ms(i));
    CHECK(lag.bound(0ms) == ms(1));
    lag.applied(500);
    // Whatever was merged, the bound is never later than the true oldest unapplied sighting.
    CHECK(lag.bound(0ms) <= ms(501));
    lag.applied(1000);
    CHECK(lag.bound(0ms) == no_bound);
}

TEST_CASE("HRW rank: stable, per group, and spreads groups over nodes") {
    CHECK(hrw_rank("rl1", 3) == hrw_rank("rl1", 3));
    CHECK(hrw_rank("rl1", 3) != hrw_rank("rl1", 4));
    CHECK(hrw_rank("rl1", 3) != hrw_rank("rl2", 3));
    std::set<std::string> tops;
    for (std::uint32_t g = 0; g < 32; ++g) {
        std::string best;
        std::uint64_t rank = 0;
        for (const std::string id : {"rl1", "rl2", "rl3"})
            if (best.empty() || hrw_rank(id, g) > rank) best = id, rank = hrw_rank(id, g);
        tops.insert(best);
    }
    CHECK(tops.size() == 3);
}

TEST_CASE("cluster settings: JSON both ways, defaults for missing fields") {
    const cluster_settings defaults;
    CHECK(to_json(defaults) ==
          R"({"catalog_lag_stop_ms":1000,"default_limit":10,"fence_ms":1250,"groups":32,)"
          R"("keepalive_ms":500,"lease_ttl_ms":3000,"reply_deadline_ms":250})");
    const cluster_settings parsed = settings_from_json(to_json(defaults));
    CHECK(to_json(parsed) == to_json(defaults));
    const cluster_settings some = settings_from_json(R"({"groups":64,"fence_ms":0})");
    CHECK(some.groups == 64);
    CHECK(some.fence == 0ms);
    CHECK(some.lease_ttl == 3000ms);
    // The design's draft wrote whole seconds.
    CHECK(settings_from_json(R"({"lease_ttl_s":4})").lease_ttl == 4000ms);
}

TEST_CASE("cluster settings: each invalid value is refused with its reason") {
    auto refused = [](const std::string& json) -> std::string {
        try {
            settings_from_json(json);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    CHECK_THAT(refused("[1]"), Catch::Contains("not a JSON object"));
    CHECK_THAT(refused("{"), Catch::Contains("not a JSON object"));
    CHECK_THAT(refused(R"({"groups":0})"), Catch::Contains("groups must be 1..256"));
    CHECK_THAT(refused(R"({"groups":257})"), Catch::Contains("groups must be 1..256"));
    CHECK_THAT(refused(R"({"groups":"32"})"), Catch::Contains("groups must be a non-negative"));
    CHECK_THAT(refused(R"({"lease_ttl_ms":1999})"), Catch::Contains("etcd's minimum lease"));
    CHECK_THAT(refused(R"({"keepalive_ms":1500})"), Catch::Contains("below half the lease ttl"));
    CHECK_THAT(refused(R"({"keepalive_ms":0})"), Catch::Contains("keepalive_ms must be above 0"));
    CHECK_THAT(refused(R"({"fence_ms":1249})"),
               Catch::Contains("at least 1000 ms + the reply deadline (1250 ms)"));
    CHECK_THAT(refused(R"({"fence_ms":1400,"reply_deadline_ms":500})"),
               Catch::Contains("(1500 ms)"));
    CHECK_THAT(refused(R"({"fence_ms":2500})"), Catch::Contains("minus the keepalive interval"));
    CHECK_THAT(refused(R"({"reply_deadline_ms":0})"), Catch::Contains("reply_deadline_ms"));
    CHECK_THAT(refused(R"({"catalog_lag_stop_ms":0})"), Catch::Contains("catalog_lag_stop_ms"));
    CHECK_THAT(refused(R"({"default_limit":0})"), Catch::Contains("default_limit"));
    CHECK_THAT(refused(R"({"fence_ms":-5})"), Catch::Contains("fence_ms must be a non-negative"));
    CHECK(refused(R"({"fence_ms":0})").empty());  // the documented fast mode
    CHECK(refused(R"({"lease_ttl_ms":2000,"keepalive_ms":250,"fence_ms":1250})").empty());
}
