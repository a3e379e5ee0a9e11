// The restart promise, on a manual clock: after a restart no user gets extra quota. Every admit
// counted in the last seconds is put back at the latest moment it could have happened, so the
// restored window frees no earlier than the real one would have (never looser), and at most one
// second later (stricter). tests/integration/restart_test.cpp is the smoke test on top.

#include <catch2/catch.hpp>

#include "service/restart_restore.hpp"

using namespace rl;
using namespace std::chrono_literals;
using service::counted_admits;
using service::restart_restore;

namespace {

constexpr common::unix_seconds T = 1'800'000'000;
constexpr limiter::user_id user = 1;
constexpr std::uint64_t key = 7;

// The restart happens at wall-clock second T plus `into`; the limiter's clock then reads `now`.
struct manual_clock {
    std::chrono::milliseconds into{300};
    limiter::time_point now = limiter::time_point{} + std::chrono::hours(1);

    std::chrono::system_clock::time_point wall() const {
        return std::chrono::system_clock::time_point(std::chrono::seconds(T)) + into;
    }
    // The limiter's time for a wall-clock moment.
    limiter::time_point at(std::chrono::system_clock::time_point wall_time) const {
        return now + (wall_time - wall());
    }
};

// A limiter restored from `counts` at the clock's restart.
struct restarted {
    restarted(const manual_clock& clock, std::uint32_t limit,
              const std::vector<counted_admits>& counts)
        : limit(limit) {
        restart_restore restore(clock.wall(), clock.now);
        for (const auto& c : counts) restore.add(c);
        restore.restore(key, user, limit, limiter);
    }
    bool admits(limiter::time_point at) { return limiter.decide(user, limit, at).admitted; }

    std::uint32_t limit;
    limiter::sliding_window_limiter limiter;
};

std::chrono::system_clock::time_point wall_second(common::unix_seconds s) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

}  // namespace

TEST_CASE("the seconds read back are the last whole one, this one, and a few ahead") {
    const manual_clock clock;
    const restart_restore restore(clock.wall(), clock.now);
    CHECK(restore.from() == T - 1);
    CHECK(restore.until() == T + 5);
}

TEST_CASE("admits of the current second hold the quota for a whole second from the restart") {
    const manual_clock clock;
    restarted r(clock, 3, {{key, T, 3}});
    CHECK_FALSE(r.admits(clock.now));
    CHECK_FALSE(r.admits(clock.now + 999ms));
    CHECK(r.admits(clock.now + 1000ms));
}

TEST_CASE("admits of the previous second leave the window when that second's last admit would") {
    const manual_clock clock;  // 300 ms into second T: the admits happened before T
    restarted r(clock, 3, {{key, T - 1, 3}});
    CHECK_FALSE(r.admits(clock.now));
    CHECK_FALSE(r.admits(clock.now + 699ms));
    CHECK(r.admits(clock.now + 700ms));
}

TEST_CASE("never looser, at most one second stricter, wherever in a second the restart falls") {
    for (const auto into : {0ms, 1ms, 250ms, 500ms, 999ms}) {
        for (const common::unix_seconds second : {T - 1, T}) {
            manual_clock clock;
            clock.into = into;
            if (wall_second(second) > clock.wall()) continue;
            CAPTURE(into.count(), second - T);
            // The real admits happened somewhere in [second, second + 1), and not after the
            // restart: the last one frees its quota at the latest one second after that.
            const auto latest_admit = std::min(clock.wall(), wall_second(second + 1) - 1ns);
            const auto real_free_latest = clock.at(latest_admit + 1s);
            const auto real_free_earliest = clock.at(wall_second(second) + 1s);

            restarted r(clock, 2, {{key, second, 2}});
            if (real_free_latest > clock.now) CHECK_FALSE(r.admits(real_free_latest - 1ns));
            restarted again(clock, 2, {{key, second, 2}});
            CHECK(again.admits(real_free_earliest + 1s));
        }
    }
}

TEST_CASE("a wall clock that stepped back across the restart: admits 'ahead' count as now") {
    const manual_clock clock;
    // The previous run's clock was three seconds ahead of this one's.
    restart_restore restore(clock.wall(), clock.now);
    REQUIRE(restore.from() <= T + 3);
    REQUIRE(T + 3 < restore.until());
    restore.add({key, T + 3, 2});
    limiter::sliding_window_limiter limiter;
    restore.restore(key, user, 2, limiter);
    CHECK_FALSE(limiter.decide(user, 2, clock.now).admitted);
    CHECK_FALSE(limiter.decide(user, 2, clock.now + 999ms).admitted);
    CHECK(limiter.decide(user, 2, clock.now + 1000ms).admitted);
}

TEST_CASE("every key of a user adds to the user's window; other keys and limited counts do not") {
    const manual_clock clock;
    restart_restore restore(clock.wall(), clock.now);
    restore.add({key, T, 1});
    restore.add({8, T, 1});
    restore.add({9, T, 5});   // another user's key
    restore.add({10, T, 0});  // only limited requests: nothing to put back
    limiter::sliding_window_limiter limiter;
    restore.restore(key, user, 3, limiter);
    restore.restore(8, user, 3, limiter);
    restore.restore(10, 2, 1, limiter);
    CHECK(limiter.decide(user, 3, clock.now).admitted);  // 2 of 3 restored
    CHECK_FALSE(limiter.decide(user, 3, clock.now).admitted);
    CHECK(limiter.decide(2, 1, clock.now).admitted);  // nothing restored for user 2
}

TEST_CASE("more admits than the limit still just fill the window") {
    const manual_clock clock;
    restarted r(clock, 2, {{key, T, 1'000'000}});
    CHECK_FALSE(r.admits(clock.now + 999ms));
    CHECK(r.admits(clock.now + 1000ms));
}
