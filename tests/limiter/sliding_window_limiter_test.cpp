#include "limiter/sliding_window_limiter.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "tests/support/run_together.hpp"

namespace {

using rl::limiter::sliding_window_limiter;
using rl::limiter::time_point;
using rl::limiter::user_id;
using rl::testing::run_together;
using std::chrono::milliseconds;

constexpr std::int64_t second_ms = 1000;

// A manual clock: the limiter never reads one, so tests name every instant.
time_point at_ms(std::int64_t ms) {
    return time_point{} + milliseconds(ms);
}

// Far enough from zero that stepping the clock back stays on the same side of the epoch.
constexpr std::int64_t t0 = 100 * second_ms;

int admitted_count(sliding_window_limiter& limiter, user_id user, std::uint32_t limit,
                   time_point now, int requests) {
    int admitted = 0;
    for (int i = 0; i < requests; ++i) admitted += limiter.decide(user, limit, now).admitted;
    return admitted;
}

// How many of `times` (milliseconds) fall in the busiest half-open interval [x, x + 1 s).
// The busiest interval can always be taken to start at one of the times.
std::size_t busiest_second(std::vector<std::int64_t> times) {
    std::sort(times.begin(), times.end());
    std::size_t busiest = 0;
    for (std::size_t first = 0, last = 0; first < times.size(); ++first) {
        while (last < times.size() && times[last] < times[first] + second_ms) ++last;
        busiest = std::max(busiest, last - first);
    }
    return busiest;
}

// Admits in the window (now - 1 s, now] that a decision at `now` must count.
std::size_t admits_in_window_before(const std::vector<std::int64_t>& admitted, std::int64_t now) {
    return static_cast<std::size_t>(std::count_if(
        admitted.begin(), admitted.end(), [&](auto t) { return t > now - second_ms && t <= now; }));
}

}  // namespace

TEST_CASE("a burst of L requests at one instant is admitted in full", "[limiter]") {
    sliding_window_limiter limiter;
    for (std::uint32_t i = 1; i <= 10; ++i) {
        const auto d = limiter.decide(1, 10, at_ms(t0));
        REQUIRE(d.admitted);
        CHECK(d.limit == 10);
        CHECK(d.remaining == 10 - i);
        CHECK(d.reset_after == milliseconds(1000));
    }
}

TEST_CASE("the request after a burst of L is rejected until the burst leaves the window",
          "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0), 10) == 10);

    const auto next = limiter.decide(1, 10, at_ms(t0));
    CHECK_FALSE(next.admitted);
    CHECK(next.remaining == 0);
    CHECK(next.reset_after == milliseconds(1000));

    const auto almost = limiter.decide(1, 10, at_ms(t0 + 999));
    CHECK_FALSE(almost.admitted);
    CHECK(almost.reset_after == milliseconds(1));

    CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 1000), 11) == 10);
}

TEST_CASE("rejected requests do not consume quota", "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0), 10) == 10);
    for (std::int64_t ms = 0; ms < 1000; ++ms)
        REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0 + ms), 3) == 0);

    CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 1000), 10) == 10);
    CHECK_FALSE(limiter.decide(1, 10, at_ms(t0 + 1000)).admitted);
}

TEST_CASE("a refunded admit gives its quota back and nothing more", "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(limiter.decide(1, 3, at_ms(t0)).admitted);
    REQUIRE(limiter.decide(1, 3, at_ms(t0 + 100)).admitted);
    REQUIRE(limiter.decide(1, 3, at_ms(t0 + 200)).admitted);
    REQUIRE_FALSE(limiter.decide(1, 3, at_ms(t0 + 300)).admitted);

    limiter.refund(1, at_ms(t0 + 100));
    CHECK(limiter.decide(1, 3, at_ms(t0 + 400)).admitted);
    CHECK_FALSE(limiter.decide(1, 3, at_ms(t0 + 500)).admitted);
    // The admits left are t0, t0 + 200 and t0 + 400: one frees at t0 + 1000, one at t0 + 1200.
    CHECK(limiter.decide(1, 3, at_ms(t0 + 1000)).admitted);
    CHECK_FALSE(limiter.decide(1, 3, at_ms(t0 + 1100)).admitted);
    CHECK(limiter.decide(1, 3, at_ms(t0 + 1200)).admitted);
}

TEST_CASE("a refund after the clock stepped back takes back no newer admit", "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(limiter.decide(1, 2, at_ms(t0)).admitted);
    // Decided at t0 - 800 but filed at t0, the latest time seen.
    REQUIRE(limiter.decide(1, 2, at_ms(t0 - 800)).admitted);
    limiter.refund(1, at_ms(t0 - 800));
    // One admit is left at t0: one more fits until t0 + 1000, not two.
    CHECK(limiter.decide(1, 2, at_ms(t0 + 500)).admitted);
    CHECK_FALSE(limiter.decide(1, 2, at_ms(t0 + 600)).admitted);
    // Refunding a user with no window is harmless.
    limiter.refund(2, at_ms(t0));
    CHECK(limiter.decide(2, 1, at_ms(t0)).admitted);
}

TEST_CASE("a clock that steps back hands out nothing extra", "[limiter]") {
    sliding_window_limiter limiter;

    SECTION("a full window stays full when the clock jumps back") {
        REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0), 10) == 10);
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 - 5000), 5) == 0);
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 999), 5) == 0);
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 1000), 11) == 10);
    }

    SECTION("an admit at a stepped-back time counts from the latest time seen") {
        REQUIRE(limiter.decide(1, 2, at_ms(t0)).admitted);
        REQUIRE(limiter.decide(1, 2, at_ms(t0 - 800)).admitted);
        // Had the second admit been filed at t0 - 800, it would have left the window by now.
        CHECK_FALSE(limiter.decide(1, 2, at_ms(t0 + 300)).admitted);
        CHECK(admitted_count(limiter, 1, 2, at_ms(t0 + 1000), 3) == 2);
    }
}

TEST_CASE("requests spaced a tenth of a second apart are all admitted at a limit of ten",
          "[limiter]") {
    sliding_window_limiter limiter;
    int admitted = 0;
    for (std::int64_t i = 0; i < 1000; ++i)
        admitted += limiter.decide(1, 10, at_ms(t0 + i * 100)).admitted;
    CHECK(admitted == 1000);
}

TEST_CASE("requests every 50 ms are admitted ten to any second, never more", "[limiter]") {
    sliding_window_limiter limiter;
    std::vector<std::int64_t> admitted;
    for (std::int64_t i = 0; i < 400; ++i) {
        const std::int64_t now = t0 + i * 50;
        if (limiter.decide(1, 10, at_ms(now)).admitted) admitted.push_back(now);
    }
    // Twenty seconds of traffic at twice the limit: half of it passes.
    CHECK(admitted.size() == 200);
    CHECK(busiest_second(admitted) == 10);
}

TEST_CASE("remaining and reset_after describe the window after the decision", "[limiter]") {
    sliding_window_limiter limiter;
    const auto check = [&](std::int64_t now, bool admitted, std::uint32_t remaining,
                           std::int64_t reset_ms) {
        INFO("at t0 + " << now - t0 << " ms");
        const auto d = limiter.decide(1, 3, at_ms(now));
        CHECK(d.admitted == admitted);
        CHECK(d.limit == 3);
        CHECK(d.remaining == remaining);
        CHECK(d.reset_after == milliseconds(reset_ms));
    };
    check(t0, true, 2, 1000);
    check(t0 + 300, true, 1, 700);
    check(t0 + 600, true, 0, 400);
    check(t0 + 700, false, 0, 300);
    check(t0 + 1000, true, 0, 300);  // the admit at t0 left; the one at t0 + 300 is next
    check(t0 + 5000, true, 2, 1000);
}

TEST_CASE("lowering the limit takes effect at once", "[limiter]") {
    sliding_window_limiter limiter;
    for (std::int64_t ms = 0; ms < 600; ms += 100)
        REQUIRE(limiter.decide(1, 10, at_ms(t0 + ms)).admitted);

    // Six admits against a limit of five: quota frees when the second oldest leaves.
    const auto d = limiter.decide(1, 5, at_ms(t0 + 600));
    CHECK_FALSE(d.admitted);
    CHECK(d.limit == 5);
    CHECK(d.remaining == 0);
    CHECK(d.reset_after == milliseconds(500));

    CHECK_FALSE(limiter.decide(1, 5, at_ms(t0 + 1099)).admitted);
    CHECK(admitted_count(limiter, 1, 5, at_ms(t0 + 1100), 2) == 1);
}

TEST_CASE("raising the limit frees the difference at once", "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, 5, at_ms(t0), 6) == 5);
    CHECK(admitted_count(limiter, 1, 8, at_ms(t0 + 10), 5) == 3);
}

TEST_CASE("lowering and raising the limit within a window forgets no admitted request",
          "[limiter]") {
    sliding_window_limiter limiter;
    std::vector<std::int64_t> admitted;
    for (std::int64_t ms = 0; ms < 1000; ms += 100)
        if (limiter.decide(1, 10, at_ms(t0 + ms)).admitted) admitted.push_back(t0 + ms);
    REQUIRE(admitted.size() == 10);

    CHECK_FALSE(limiter.decide(1, 5, at_ms(t0 + 950)).admitted);
    for (std::int64_t ms = 960; ms < 1000; ms += 10)
        if (limiter.decide(1, 10, at_ms(t0 + ms)).admitted) admitted.push_back(t0 + ms);
    CHECK(busiest_second(admitted) <= 10);
}

TEST_CASE("a limit of zero rejects every request", "[limiter]") {
    sliding_window_limiter limiter;
    for (std::int64_t ms = 0; ms < 3000; ms += 250) {
        const auto d = limiter.decide(1, 0, at_ms(t0 + ms));
        CHECK_FALSE(d.admitted);
        CHECK(d.remaining == 0);
        CHECK(d.reset_after > milliseconds(0));
    }
}

TEST_CASE("restore seeds a user's window with admits at the given time", "[limiter]") {
    sliding_window_limiter limiter;

    SECTION("part of the quota") {
        limiter.restore(1, 10, 4, at_ms(t0));
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 500), 10) == 6);
    }

    SECTION("more than the limit is capped at the limit") {
        limiter.restore(1, 10, 50, at_ms(t0));
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 999), 1) == 0);
        CHECK(admitted_count(limiter, 1, 30, at_ms(t0 + 999), 30) == 20);
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 1000), 11) == 0);
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 + 1999), 11) == 10);
    }

    SECTION("restores in any order keep the newest admits, up to the limit") {
        limiter.restore(1, 5, 3, at_ms(t0 + 800));  // the newer second comes first
        limiter.restore(1, 5, 5, at_ms(t0));
        // The window holds 3 admits at t0+800 and 2 at t0: full until t0+1000.
        CHECK(admitted_count(limiter, 1, 5, at_ms(t0 + 999), 1) == 0);
        // At t0+1000 the two oldest leave, the three at t0+800 stay until t0+1800.
        CHECK(admitted_count(limiter, 1, 5, at_ms(t0 + 1000), 5) == 2);
        CHECK(admitted_count(limiter, 1, 5, at_ms(t0 + 1800), 5) == 3);
    }

    SECTION("a restore in the past leaves the clock there, not earlier") {
        limiter.restore(1, 10, 10, at_ms(t0));
        CHECK(admitted_count(limiter, 1, 10, at_ms(t0 - 2000), 1) == 0);
    }
    CHECK(limiter.active_users() == 1);
}

TEST_CASE("forget_idle drops users idle for a full window and keeps the others", "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0), 1) == 1);
    REQUIRE(admitted_count(limiter, 2, 10, at_ms(t0 + 500), 10) == 10);
    REQUIRE(limiter.active_users() == 2);

    CHECK(limiter.forget_idle(at_ms(t0 + 999)) == 2);
    CHECK(limiter.forget_idle(at_ms(t0 + 1000)) == 1);
    CHECK(limiter.active_users() == 1);
    // User 2's full window survived the sweep.
    CHECK_FALSE(limiter.decide(2, 10, at_ms(t0 + 1200)).admitted);

    CHECK(limiter.forget_idle(at_ms(t0 + 2200)) == 0);
    CHECK(limiter.active_users() == 0);
}

TEST_CASE("forget drops one user's window", "[limiter]") {
    sliding_window_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0), 10) == 10);
    REQUIRE(admitted_count(limiter, 2, 10, at_ms(t0), 10) == 10);
    limiter.forget(1);
    CHECK(limiter.active_users() == 1);
    CHECK(admitted_count(limiter, 1, 10, at_ms(t0), 10) == 10);
    CHECK(admitted_count(limiter, 2, 10, at_ms(t0), 1) == 0);
}

TEST_CASE("users are limited independently, including users that share a shard", "[limiter]") {
    sliding_window_limiter limiter;
    // 1, 65 and 129 land in the same of the 64 shards.
    REQUIRE(admitted_count(limiter, 1, 10, at_ms(t0), 20) == 10);
    CHECK(admitted_count(limiter, 65, 10, at_ms(t0), 20) == 10);
    CHECK(admitted_count(limiter, 129, 3, at_ms(t0), 20) == 3);
    CHECK(admitted_count(limiter, 2, 10, at_ms(t0), 20) == 10);
    CHECK(limiter.active_users() == 4);
}

TEST_CASE("random traffic is admitted exactly when the preceding second has room", "[limiter]") {
    const auto seed = GENERATE(range(1, 41));
    CAPTURE(seed);
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const bool limit_changes = seed % 2 == 0;
    std::uniform_int_distribution<std::uint32_t> pick_limit(1, 12);
    std::uniform_int_distribution<std::int64_t> gap(0, 150);
    std::uniform_int_distribution<int> pick(0, 99);

    sliding_window_limiter limiter;
    std::uint32_t limit = pick_limit(rng);
    std::vector<std::int64_t> admitted;  // at the limiter's own notion of time
    std::int64_t clock = t0, latest = t0;
    for (int i = 0; i < 600; ++i) {
        // Mostly forward; a fifth of the time at the same instant; now and then a step back.
        const int roll = pick(rng);
        if (roll >= 24)
            clock += gap(rng) / (roll % 3 + 1);
        else if (roll >= 20)
            clock -= gap(rng) * 3;
        if (limit_changes && roll > 95) limit = pick_limit(rng);

        latest = std::max(latest, clock);
        const std::size_t in_window = admits_in_window_before(admitted, latest);
        const auto d = limiter.decide(7, limit, at_ms(clock));
        INFO("request " << i << " at " << clock << " ms (latest " << latest << "), limit " << limit
                        << ", " << in_window << " admits in the preceding second");
        REQUIRE(d.admitted == (in_window < limit));
        if (d.admitted) admitted.push_back(latest);
        const std::size_t after = in_window + d.admitted;
        CHECK(d.remaining == (after < limit ? limit - after : 0));
    }
    if (!limit_changes) CHECK(busiest_second(admitted) <= limit);
}

TEST_CASE("many threads deciding for one user at one instant admit exactly L", "[limiter]") {
    sliding_window_limiter limiter;
    std::atomic<int> admitted{0};
    run_together(16, [&](int) {
        for (int i = 0; i < 2000; ++i) admitted += limiter.decide(42, 25, at_ms(t0)).admitted;
    });
    CHECK(admitted.load() == 25);
}

TEST_CASE("many threads deciding for a few users at one instant admit exactly L each",
          "[limiter]") {
    sliding_window_limiter limiter;
    const std::vector<user_id> users = {1, 65, 129, 2, 3};  // three share a shard
    const std::vector<std::uint32_t> limits = {10, 20, 1, 100, 7};
    std::vector<std::atomic<std::uint32_t>> admitted(users.size());
    run_together(12, [&](int thread) {
        for (int i = 0; i < 3000; ++i) {
            const std::size_t u = static_cast<std::size_t>(thread + i) % users.size();
            admitted[u] += limiter.decide(users[u], limits[u], at_ms(t0)).admitted;
        }
    });
    for (std::size_t u = 0; u < users.size(); ++u) {
        CAPTURE(users[u]);
        CHECK(admitted[u].load() == limits[u]);
    }
}

TEST_CASE("many threads meeting many new users at once admit exactly L each", "[limiter]") {
    // Every thread walks all users from a different starting point, so users are created,
    // grown and decided for concurrently, in shards shared by many of them.
    sliding_window_limiter limiter;
    constexpr std::size_t user_count = 3000;
    constexpr std::uint32_t limit = 5;
    std::vector<std::atomic<std::uint32_t>> admitted(user_count);
    run_together(8, [&](int thread) {
        for (int round = 0; round < 2; ++round)
            for (std::size_t i = 0; i < user_count; ++i) {
                const std::size_t u = (i + static_cast<std::size_t>(thread) * 397) % user_count;
                admitted[u] += limiter.decide(static_cast<user_id>(u), limit, at_ms(t0)).admitted;
            }
    });
    CHECK(limiter.active_users() == user_count);
    std::size_t exact = 0;
    for (const auto& a : admitted) exact += a.load() == limit;
    CHECK(exact == user_count);
}

TEST_CASE("many threads with an advancing clock never exceed L in any second", "[limiter]") {
    // Each user's requests take their time from one shared counter. The test serialises
    // "read the clock, decide" per user so that the times it records are the ones the limiter
    // saw; different users still hit the limiter (and shared shards) concurrently.
    sliding_window_limiter limiter;
    const std::vector<user_id> users = {5, 69, 133, 6};
    constexpr std::uint32_t limit = 10;
    std::vector<std::mutex> user_locks(users.size());
    std::vector<std::vector<std::int64_t>> admitted(users.size());
    std::atomic<std::int64_t> ticks{0};  // one tick is 3 ms of simulated time

    run_together(8, [&](int thread) {
        std::mt19937 rng(static_cast<unsigned>(thread));
        for (int i = 0; i < 4000; ++i) {
            const std::size_t u = rng() % users.size();
            std::lock_guard lock(user_locks[u]);
            const std::int64_t now = t0 + 3 * ticks.fetch_add(1);
            if (limiter.decide(users[u], limit, at_ms(now)).admitted) admitted[u].push_back(now);
        }
    });
    for (std::size_t u = 0; u < users.size(); ++u) {
        CAPTURE(users[u]);
        CHECK(busiest_second(admitted[u]) == limit);
    }
}
