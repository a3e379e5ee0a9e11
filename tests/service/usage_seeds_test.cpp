// The restart promise, on a manual clock: after a restart no user gets extra quota. Every admit
// counted in the last seconds is put back at the latest moment it could have happened, so the
// restored window frees no earlier than the real one would have (never looser), and at most one
// second later (stricter); day and month quotas start from their periods' sums.
// tests/integration/restart_test.cpp is the smoke test on top.

#include <catch2/catch.hpp>

#include "limiter/policy_limiter.hpp"
#include "service/usage_seeds.hpp"

using namespace rl;
using namespace std::chrono_literals;
using service::seed_builder;
using service::seed_needs;

namespace {

constexpr common::unix_seconds T = 1'800'000'000;
constexpr limiter::user_id user = 1;

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

struct counted_admits {
    limiter::user_id user;
    common::unix_seconds second;
    std::uint64_t admitted;
};

limiter::policy per_second(std::uint32_t quota) {
    return limiter::policy{{limiter::sliding_limit(1, quota)}};
}

seed_needs needs_of(const limiter::policy& p) {
    seed_needs needs;
    needs.add(p);
    return needs;
}

// Seeds every user's window from the counts, as the start-up does.
void restore(limiter::policy_limiter& limiter, const manual_clock& clock, const limiter::policy& p,
             const std::vector<counted_admits>& counts) {
    seed_builder seeds(needs_of(p), clock.wall());
    for (const auto& c : counts) seeds.add_second(c.user, c.second, c.admitted);
    for (const auto& [u, seed] : seeds.seeds())
        limiter.restore(u, p, seed, clock.now, clock.wall());
}

// A limiter restored from `counts` at the clock's restart.
struct restarted {
    restarted(const manual_clock& clock, std::uint32_t limit,
              const std::vector<counted_admits>& counts)
        : policy(per_second(limit)), clock(clock) {
        restore(limiter, clock, policy, counts);
    }
    bool admits(limiter::time_point at) {
        return limiter.decide(user, policy, at, clock.wall() + (at - clock.now)).admitted;
    }

    limiter::policy policy;
    manual_clock clock;
    limiter::policy_limiter limiter;
};

std::chrono::system_clock::time_point wall_second(common::unix_seconds s) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

}  // namespace

TEST_CASE("the seconds read back span the longest window, this second, and a few ahead") {
    const manual_clock clock;
    const seed_builder one(needs_of(per_second(3)), clock.wall());
    CHECK(one.seconds_from() == T - 2);
    CHECK(one.seconds_until() == T + 5);
    const seed_builder hour(needs_of(*limiter::parse_policy("1s:3,1h:100").value), clock.wall());
    CHECK(hour.seconds_from() == T - 3601);
}

TEST_CASE("admits of the current second hold the quota for a whole second from the restart") {
    const manual_clock clock;
    restarted r(clock, 3, {{user, T, 3}});
    CHECK_FALSE(r.admits(clock.now));
    CHECK_FALSE(r.admits(clock.now + 999ms));
    CHECK(r.admits(clock.now + 1000ms));
}

TEST_CASE("admits of the previous second leave the window when that second's last admit would") {
    const manual_clock clock;  // 300 ms into second T: the admits happened before T
    restarted r(clock, 3, {{user, T - 1, 3}});
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

            restarted r(clock, 2, {{user, second, 2}});
            if (real_free_latest > clock.now) CHECK_FALSE(r.admits(real_free_latest - 1ns));
            restarted again(clock, 2, {{user, second, 2}});
            CHECK(again.admits(real_free_earliest + 1s));
        }
    }
}

TEST_CASE("a wall clock that stepped back across the restart: admits 'ahead' count as now") {
    const manual_clock clock;
    // The previous run's clock was three seconds ahead of this one's.
    const seed_builder seeds(needs_of(per_second(2)), clock.wall());
    REQUIRE(seeds.seconds_from() <= T + 3);
    REQUIRE(T + 3 < seeds.seconds_until());
    restarted r(clock, 2, {{user, T + 3, 2}});
    CHECK_FALSE(r.admits(clock.now));
    CHECK_FALSE(r.admits(clock.now + 999ms));
    CHECK(r.admits(clock.now + 1000ms));
}

TEST_CASE("every key of a user adds to the user's window; other users' counts do not") {
    const manual_clock clock;
    restarted r(clock, 3, {{user, T, 1}, {user, T, 1}, {2, T, 5}, {3, T, 0}});
    CHECK(r.admits(clock.now));  // 2 of 3 restored
    CHECK_FALSE(r.admits(clock.now));
    CHECK(r.limiter.decide(3, per_second(1), clock.now, clock.wall()).admitted);
}

TEST_CASE("a day quota starts from the day's admits and a month quota from the month's") {
    const manual_clock clock;
    const auto p = *limiter::parse_policy("1s:100,day:10,month:25").value;
    seed_builder seeds(needs_of(p), clock.wall());
    CHECK(seeds.day_from() == T - T % 86400);
    seeds.add_day(user, 7);
    seeds.add_month(user, 20);
    limiter::policy_limiter limiter;
    limiter.restore(user, p, *seeds.seed_of(user), clock.now, clock.wall());
    int admitted = 0;
    for (int i = 0; i < 10; ++i)
        admitted += limiter.decide(user, p, clock.now + i * 10ms, clock.wall() + i * 10ms).admitted;
    CHECK(admitted == 3);  // 10 a day, 7 already used
    // A new day: the month (20 + 3 of 25) is what holds.
    const auto next_day = std::chrono::seconds(86400 - T % 86400) + 1s;
    admitted = 0;
    for (int i = 0; i < 10; ++i)
        admitted += limiter
                        .decide(user, p, clock.now + next_day + i * 10ms,
                                clock.wall() + next_day + i * 10ms)
                        .admitted;
    const bool same_month =
        seeds.month_from() == seed_builder(needs_of(p), clock.wall() + next_day).month_from();
    CHECK(admitted == (same_month ? 2 : 10));
}

TEST_CASE("only the windows new to a change of terms are read") {
    seed_needs needs;
    needs.add_new(*limiter::parse_policy("1s:5,1m:100,day:1000").value,
                  *limiter::parse_policy("1s:10,day:500").value);
    CHECK(needs.sliding_seconds == 60);
    CHECK_FALSE(needs.day);
    CHECK_FALSE(needs.month);
    seed_needs none;
    none.add_new(*limiter::parse_policy("1s:5").value, *limiter::parse_policy("1s:10").value);
    CHECK_FALSE(none.any());
}

TEST_CASE("more admits than the limit still just fill the window") {
    const manual_clock clock;
    restarted r(clock, 2, {{user, T, 1'000'000}});
    CHECK_FALSE(r.admits(clock.now + 999ms));
    CHECK(r.admits(clock.now + 1000ms));
}
