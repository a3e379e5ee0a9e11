#include "limiter/policy_limiter.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "common/time_text.hpp"
#include "tests/support/run_together.hpp"

namespace {

using namespace rl::limiter;
using rl::testing::run_together;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::int64_t second_ms = 1000;
constexpr std::int64_t day_ms = 86400 * second_ms;

// Far from zero, so a clock stepped back stays on the same side of the steady epoch.
constexpr std::int64_t t0 = 1000000 * second_ms;

std::int64_t unix_ms(const char* rfc3339) {
    const auto t = rl::common::parse_rfc3339(rfc3339);
    REQUIRE(t);
    return *t * second_ms;
}

// A manual clock: both clocks of one moment. Steady time runs from t0, wall time from `wall0`
// (by default the middle of a UTC day, so sliding-window tests cross no midnight).
struct moment {
    time_point steady;
    wall_time wall;
};

struct manual_clock {
    std::int64_t wall0 = unix_ms("2026-03-14T12:00:00Z");

    moment at_us(std::int64_t us) const {
        return {time_point{} + microseconds(t0 * 1000 + us),
                wall_time{} + microseconds(wall0 * 1000 + us)};
    }
    moment at(std::int64_t ms) const { return at_us(ms * 1000); }
    // The same steady moment with the wall clock somewhere else.
    moment with_wall(std::int64_t ms, std::int64_t wall_unix_ms) const {
        return {at(ms).steady, wall_time{} + milliseconds(wall_unix_ms)};
    }
};

policy make(const std::string& text) {
    auto p = parse_policy(text);
    INFO(text << ": " << p.error);
    REQUIRE(p);
    return *p.value;
}

policy_decision decide(policy_limiter& l, user_id user, const policy& p, const moment& m) {
    return l.decide(user, p, m.steady, m.wall);
}

int admitted_count(policy_limiter& l, user_id user, const policy& p, const moment& m,
                   int requests) {
    int admitted = 0;
    for (int i = 0; i < requests; ++i) admitted += decide(l, user, p, m).admitted;
    return admitted;
}

std::vector<bool> violated(const policy_decision& d) {
    std::vector<bool> v;
    for (std::size_t i = 0; i < d.count; ++i) v.push_back(d.limits[i].violated);
    return v;
}

// How many of `times` fall in the busiest half-open interval of length `w` (same unit).
std::size_t busiest(std::vector<std::int64_t> times, std::int64_t w) {
    std::sort(times.begin(), times.end());
    std::size_t most = 0;
    for (std::size_t first = 0, last = 0; first < times.size(); ++first) {
        while (last < times.size() && times[last] < times[first] + w) ++last;
        most = std::max(most, last - first);
    }
    return most;
}

// Admits in (now - w, now].
std::size_t in_window(const std::vector<std::int64_t>& times, std::int64_t now, std::int64_t w) {
    return static_cast<std::size_t>(
        std::count_if(times.begin(), times.end(), [&](auto t) { return t > now - w && t <= now; }));
}

// The contract, written the slow way: every sliding limit an exact window over all admits, every
// day quota a count per UTC day.
struct reference {
    policy p;
    std::vector<std::int64_t> admits;      // steady ms
    std::vector<std::int64_t> admit_days;  // UTC day of each admit

    bool has_room(std::size_t i, std::int64_t now, std::int64_t day) const {
        const limit& l = p.limits[i];
        std::size_t held = 0;
        if (l.kind == window_kind::sliding)
            held = in_window(admits, now, std::int64_t{l.seconds} * second_ms);
        else
            held = static_cast<std::size_t>(std::count(admit_days.begin(), admit_days.end(), day));
        return held < l.quota;
    }
    std::vector<bool> violated(std::int64_t now, std::int64_t day) const {
        std::vector<bool> v;
        for (std::size_t i = 0; i < p.limits.size(); ++i) v.push_back(!has_room(i, now, day));
        return v;
    }
    bool admit(std::int64_t now, std::int64_t day) {
        const auto v = violated(now, day);
        if (std::find(v.begin(), v.end(), true) != v.end()) return false;
        admits.push_back(now);
        admit_days.push_back(day);
        return true;
    }
};

std::int64_t slot_us(std::uint32_t window_seconds) {
    return (std::int64_t{window_seconds} * 1000000 + slot_count - 1) / slot_count;
}

}  // namespace

TEST_CASE("an exact window admits a burst of q, then nothing until the burst leaves it",
          "[policy_limiter]") {
    const std::string text = GENERATE("1s:10", "10s:20", "90s:5", "1m:64", "1h:50", "1s:1");
    CAPTURE(text);
    const policy p = make(text);
    const limit l = p.limits[0];
    const std::int64_t w = std::int64_t{l.seconds} * second_ms;
    const manual_clock clock;
    policy_limiter limiter;

    for (std::uint32_t i = 1; i <= l.quota; ++i) {
        const auto d = decide(limiter, 1, p, clock.at(0));
        REQUIRE(d.admitted);
        CHECK(d.count == 1);
        CHECK(d.limits[0].remaining == l.quota - i);
        CHECK(d.limits[0].reset_after == milliseconds(w));
        CHECK(d.retry_after == nanoseconds(0));
        CHECK_FALSE(d.limits[0].violated);
    }
    const auto next = decide(limiter, 1, p, clock.at(0));
    CHECK_FALSE(next.admitted);
    CHECK(next.limits[0].violated);
    CHECK(next.limits[0].remaining == 0);
    CHECK(next.retry_after == milliseconds(w));

    const auto almost = decide(limiter, 1, p, clock.at(w - 1));
    CHECK_FALSE(almost.admitted);
    CHECK(almost.retry_after == milliseconds(1));
    CHECK_FALSE(decide(limiter, 1, p, clock.at_us(w * 1000 - 1)).admitted);

    CHECK(admitted_count(limiter, 1, p, clock.at(w), static_cast<int>(l.quota) + 1) ==
          static_cast<int>(l.quota));
}

TEST_CASE("a slotted window admits a burst of q, then nothing for between w and w + g",
          "[policy_limiter]") {
    const std::string text = GENERATE("1s:100", "1m:300", "10s:65", "90s:1000", "1h:100000");
    // Bursts at the start of a slot and in the middle of one.
    const std::int64_t offset_us = GENERATE(0, 12345);
    CAPTURE(text, offset_us);
    const policy p = make(text);
    const limit l = p.limits[0];
    const std::int64_t w = std::int64_t{l.seconds} * 1000000;
    const std::int64_t g = slot_us(l.seconds);
    const manual_clock clock;
    policy_limiter limiter;

    // The burst lands in one slot; it leaves once the slot's last microsecond has.
    REQUIRE(offset_us < g);
    const std::int64_t slot_start = (g - (t0 * 1000) % g) % g;
    const std::int64_t start = slot_start + offset_us;
    const std::int64_t leaves = slot_start + g - 1 + w;
    REQUIRE(leaves - start >= w);
    REQUIRE(leaves - start < w + g);

    REQUIRE(admitted_count(limiter, 1, p, clock.at_us(start), static_cast<int>(l.quota)) ==
            static_cast<int>(l.quota));
    const auto next = decide(limiter, 1, p, clock.at_us(start));
    CHECK_FALSE(next.admitted);
    CHECK(next.retry_after == microseconds(leaves - start));
    CHECK(admitted_count(limiter, 1, p, clock.at_us(start + w - 1000), 1) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at_us(leaves - 1), 1) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at_us(leaves), static_cast<int>(l.quota) + 1) ==
          static_cast<int>(l.quota));
}

TEST_CASE("between microseconds an exact window only ever errs on the strict side",
          "[policy_limiter]") {
    // Steady time in nanoseconds: an admit is filed at its microsecond rounded up, and the window
    // is measured from now rounded down.
    const policy p = make("1s:1");
    const auto at_ns = [](std::int64_t ns) {
        return moment{time_point{} + milliseconds(t0) + nanoseconds(ns), manual_clock{}.at(0).wall};
    };
    constexpr std::int64_t w = 1000000000;
    policy_limiter limiter;
    REQUIRE(decide(limiter, 1, p, at_ns(500)).admitted);
    CHECK_FALSE(decide(limiter, 1, p, at_ns(w + 499)).admitted);  // exact: still inside
    CHECK_FALSE(decide(limiter, 1, p, at_ns(w + 500)).admitted);  // exact would admit here
    CHECK_FALSE(decide(limiter, 1, p, at_ns(w + 999)).admitted);
    const auto d = decide(limiter, 1, p, at_ns(w + 1000));
    CHECK(d.admitted);
    CHECK(d.limits[0].reset_after == nanoseconds(w));
}

TEST_CASE("a day quota admits q in the day and nothing more until midnight", "[policy_limiter]") {
    const policy p = make("day:5");
    const manual_clock clock;  // noon
    policy_limiter limiter;
    for (std::uint32_t i = 1; i <= 5; ++i) {
        const auto d = decide(limiter, 1, p, clock.at(0));
        REQUIRE(d.admitted);
        CHECK(d.limits[0].remaining == 5 - i);
        CHECK(d.limits[0].reset_after == milliseconds(day_ms / 2));
    }
    const auto next = decide(limiter, 1, p, clock.at(0));
    CHECK_FALSE(next.admitted);
    CHECK(next.limits[0].violated);
    CHECK(next.retry_after == milliseconds(day_ms / 2));
    CHECK(admitted_count(limiter, 1, p, clock.at(day_ms / 2 - 1), 1) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at(day_ms / 2), 6) == 5);
}

TEST_CASE("the daily quota's last admit is at 23:59:59.999 and the next day starts at 00:00",
          "[policy_limiter]") {
    const policy p = make("1s:10,day:3");
    manual_clock clock;
    clock.wall0 = unix_ms("2026-06-30T23:59:59Z");  // at(0) is 23:59:59.000
    policy_limiter limiter;

    REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 2) == 2);
    const auto last = decide(limiter, 1, p, clock.at(999));
    REQUIRE(last.admitted);
    CHECK(last.limits[1].remaining == 0);
    CHECK(last.limits[1].reset_after == milliseconds(1));
    CHECK(last.closest == 1);

    const auto over = decide(limiter, 1, p, clock.at(999));
    CHECK_FALSE(over.admitted);
    CHECK(violated(over) == std::vector<bool>{false, true});
    CHECK(over.retry_after == milliseconds(1));
    CHECK(over.closest == 1);

    const auto first = decide(limiter, 1, p, clock.at(1000));  // 2026-07-01T00:00:00.000Z
    CHECK(first.admitted);
    CHECK(first.limits[1].remaining == 2);
    CHECK(first.limits[1].reset_after == milliseconds(day_ms));
    CHECK(admitted_count(limiter, 1, p, clock.at(1000), 5) == 2);
}

TEST_CASE("a month quota rolls over on the 1st, a leap February included", "[policy_limiter]") {
    const policy p = make("month:2");
    manual_clock clock;
    policy_limiter limiter;

    SECTION("into March of a leap year") {
        clock.wall0 = unix_ms("2024-02-29T23:59:59Z");
        REQUIRE(admitted_count(limiter, 1, p, clock.at(999), 2) == 2);
        const auto over = decide(limiter, 1, p, clock.at(999));
        CHECK_FALSE(over.admitted);
        CHECK(over.retry_after == milliseconds(1));
        CHECK(admitted_count(limiter, 1, p, clock.at(1000), 3) == 2);
    }
    SECTION("a full February waits out all 29 days") {
        clock.wall0 = unix_ms("2024-02-01T00:00:00Z");
        REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 2) == 2);
        CHECK(decide(limiter, 1, p, clock.at(0)).retry_after == milliseconds(29 * day_ms));
        CHECK(admitted_count(limiter, 1, p, clock.at(28 * day_ms), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(29 * day_ms - 1), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(29 * day_ms), 3) == 2);
    }
    SECTION("a common year's February has 28 days") {
        clock.wall0 = unix_ms("2023-02-28T23:59:59Z");
        REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 2) == 2);
        CHECK(decide(limiter, 1, p, clock.at(0)).retry_after == milliseconds(1000));
        CHECK(admitted_count(limiter, 1, p, clock.at(1000), 2) == 2);
    }
    SECTION("December into January") {
        clock.wall0 = unix_ms("2026-12-31T23:59:59Z");
        REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 3) == 2);
        CHECK(admitted_count(limiter, 1, p, clock.at(1000), 3) == 2);
    }
}

TEST_CASE("with 1s:5 and 10s:20, five a second pass for four seconds, then the 10 s window binds",
          "[policy_limiter]") {
    const policy p = make("1s:5,10s:20");
    const manual_clock clock;
    policy_limiter limiter;
    std::vector<int> per_second(13, 0);
    for (std::int64_t ms = 0; ms < 13 * second_ms; ms += 10) {
        const auto d = decide(limiter, 1, p, clock.at(ms));
        per_second[static_cast<std::size_t>(ms / second_ms)] += d.admitted;
        if (d.admitted) continue;
        INFO("rejected at " << ms << " ms");
        if (ms < 3 * second_ms) {
            CHECK(violated(d) == std::vector<bool>{true, false});
            CHECK(d.closest == 0);
            CHECK(d.retry_after == milliseconds(1000 - ms % 1000));
        } else if (ms < 4 * second_ms) {
            // The 20th admit came at 3040 ms: both windows are full, the 10 s one for longer.
            CHECK(violated(d) == std::vector<bool>{true, true});
            CHECK(d.closest == 1);
            CHECK(d.retry_after == milliseconds(10 * second_ms - ms));
        } else if (ms < 10 * second_ms) {
            CHECK(violated(d) == std::vector<bool>{false, true});
            CHECK(d.closest == 1);
            if (ms >= 4050) CHECK(d.limits[0].remaining == 5);
            CHECK(d.retry_after == milliseconds(10 * second_ms - ms));
        }
    }
    CHECK(per_second == std::vector<int>{5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 5, 5, 5});
}

TEST_CASE("with three limits each binds in turn, exactly as the reference says",
          "[policy_limiter]") {
    const policy p = make("1s:3,10s:10,day:25");
    manual_clock clock;
    clock.wall0 = unix_ms("2026-03-14T23:59:00Z");  // a midnight inside the run
    policy_limiter limiter;
    reference ref{p, {}, {}};
    std::vector<int> binding_seen(3, 0);
    for (std::int64_t ms = 0; ms < 120 * second_ms; ms += 50) {
        const auto m = clock.at(ms);
        const std::int64_t day = (clock.wall0 + ms) / day_ms;
        const auto expected = ref.violated(ms, day);
        const bool admitted = ref.admit(ms, day);
        const auto d = decide(limiter, 1, p, m);
        INFO("at " << ms << " ms");
        REQUIRE(d.admitted == admitted);
        if (!admitted) {
            REQUIRE(violated(d) == expected);
            for (std::size_t i = 0; i < 3; ++i) binding_seen[i] += expected[i];
        }
    }
    // Every limit was the reason for some rejection.
    CHECK(binding_seen[0] > 0);
    CHECK(binding_seen[1] > 0);
    CHECK(binding_seen[2] > 0);
    // 25 before midnight (at 60 s), 25 after.
    CHECK(ref.admits.size() == 50);
}

TEST_CASE("rejected requests consume no window", "[policy_limiter]") {
    const policy p = make("1s:5,10s:8,day:20");
    const manual_clock clock;
    policy_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 5) == 5);
    // Rejected by the 1 s window: the 10 s window and the day quota must not count them.
    for (std::int64_t ms = 0; ms < 1000; ms += 5)
        REQUIRE(admitted_count(limiter, 1, p, clock.at(ms), 3) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at(1000), 10) == 3);
    // Rejected by the 10 s window: the 1 s window must not count them.
    for (std::int64_t ms = 1000; ms < 10000; ms += 7)
        REQUIRE(admitted_count(limiter, 1, p, clock.at(ms), 2) == 0);
    // At 10 s the first five leave the 10 s window; the 1 s window is empty.
    CHECK(admitted_count(limiter, 1, p, clock.at(10000), 10) == 5);
    // The day holds 13 admits: 7 more after the windows clear.
    CHECK(admitted_count(limiter, 1, p, clock.at(30000), 5) == 5);
    CHECK(admitted_count(limiter, 1, p, clock.at(60000), 5) == 2);
}

TEST_CASE("random traffic on exact windows and a day quota matches the reference",
          "[policy_limiter]") {
    const auto seed = GENERATE(range(1, 31));
    CAPTURE(seed);
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const std::vector<std::string> policies = {"1s:3,10s:10", "1s:5,10s:20,1m:40", "2s:4,day:30",
                                               "1s:2,5s:6,90s:20,day:50", "3s:64"};
    const policy p = make(policies[static_cast<std::size_t>(seed) % policies.size()]);
    manual_clock clock;
    clock.wall0 = unix_ms("2026-03-14T23:58:00Z");
    std::uniform_int_distribution<std::int64_t> gap(0, 400);
    std::uniform_int_distribution<int> pick(0, 99);

    policy_limiter limiter;
    reference ref{p, {}, {}};
    std::int64_t now = 0;
    for (int i = 0; i < 1500; ++i) {
        const int roll = pick(rng);
        if (roll >= 20) now += gap(rng) / (roll % 4 + 1);
        const std::int64_t day = (clock.wall0 + now) / day_ms;
        const auto expected = ref.violated(now, day);
        const bool admitted = ref.admit(now, day);
        const auto d = decide(limiter, 1, p, clock.at(now));
        INFO("request " << i << " at " << now << " ms");
        REQUIRE(d.admitted == admitted);
        if (!admitted) REQUIRE(violated(d) == expected);
        for (std::size_t l = 0; l < p.limits.size(); ++l) {
            const limit& lim = p.limits[l];
            if (lim.kind != window_kind::sliding) continue;
            const std::size_t held =
                in_window(ref.admits, now, std::int64_t{lim.seconds} * second_ms);
            CHECK(d.limits[l].remaining == (held < lim.quota ? lim.quota - held : 0));
        }
    }
    for (const limit& l : p.limits)
        if (l.kind == window_kind::sliding)
            CHECK(busiest(ref.admits, std::int64_t{l.seconds} * second_ms) <= l.quota);
}

TEST_CASE("the closest limit is the one with least remaining, ties to the longest wait",
          "[policy_limiter]") {
    const manual_clock clock;
    policy_limiter limiter;
    const policy p = make("1s:4,10s:4,day:100");
    // Equal remaining in both windows: the 10 s window waits longer.
    auto d = decide(limiter, 1, p, clock.at(0));
    CHECK(d.limits[0].remaining == 3);
    CHECK(d.limits[1].remaining == 3);
    CHECK(d.closest == 1);
    const policy q = make("1s:2,10s:20,day:100");
    d = decide(limiter, 2, q, clock.at(0));
    CHECK(d.closest == 0);
}

TEST_CASE("a plan change keeps what every window holds", "[policy_limiter]") {
    const manual_clock clock;
    policy_limiter limiter;

    SECTION("raising a quota mid-window frees the difference at once") {
        REQUIRE(admitted_count(limiter, 1, make("1s:5,1m:20"), clock.at(0), 6) == 5);
        CHECK(admitted_count(limiter, 1, make("1s:8,1m:20"), clock.at(10), 5) == 3);
        CHECK(admitted_count(limiter, 1, make("1s:8,1m:20"), clock.at(1010), 20) == 8);
        // 16 in the minute: four more, whatever the 1 s window allows.
        CHECK(admitted_count(limiter, 1, make("1s:8,1m:20"), clock.at(5000), 20) == 4);
    }
    SECTION("lowering a quota keeps every admit, even when raised again") {
        const policy high = make("1s:10,1m:30");
        for (std::int64_t ms = 0; ms < 600; ms += 100)
            REQUIRE(decide(limiter, 1, high, clock.at(ms)).admitted);
        const auto d = decide(limiter, 1, make("1s:5,1m:30"), clock.at(600));
        CHECK_FALSE(d.admitted);
        CHECK(d.limits[0].remaining == 0);
        // Six held against five: room once the two oldest have left.
        CHECK(d.retry_after == milliseconds(500));
        // Back to 10 within the second: the six still count.
        CHECK(admitted_count(limiter, 1, high, clock.at(650), 10) == 4);
        CHECK(admitted_count(limiter, 1, make("1s:5,1m:30"), clock.at(1099), 1) == 0);
    }
    SECTION("a new window starts from the seed, the others keep theirs") {
        const policy before = make("1s:5");
        REQUIRE(admitted_count(limiter, 1, before, clock.at(0), 5) == 5);
        // Durable usage: 15 admits over the last few wall seconds (the window of 1 m is new).
        const std::int64_t now_s = (clock.wall0 + 500) / second_ms;
        seed s;
        s.admits = {{now_s - 3, 5}, {now_s - 1, 5}, {now_s, 5}};
        s.day = 40;
        const policy after = make("1s:5,1m:20,day:50");
        const auto m = clock.at(500);
        limiter.reshape(1, after, s, m.steady, m.wall);
        // The 1 s window still holds its five.
        CHECK(admitted_count(limiter, 1, after, clock.at(999), 1) == 0);
        // The new minute holds the seed's 15: five more. The day holds 40: ten more.
        CHECK(admitted_count(limiter, 1, after, clock.at(1000), 10) == 5);
        CHECK(admitted_count(limiter, 1, after, clock.at(30000), 10) == 0);
        const auto d = decide(limiter, 1, after, clock.at(30000));
        CHECK(violated(d) == std::vector<bool>{false, true, false});
        CHECK(d.limits[2].remaining == 5);
    }
    SECTION("a removed window is dropped, the others keep theirs") {
        const policy before = make("1s:5,10s:8");
        REQUIRE(admitted_count(limiter, 1, before, clock.at(0), 5) == 5);
        REQUIRE(admitted_count(limiter, 1, before, clock.at(1000), 5) == 3);
        const policy after = make("1s:5");
        CHECK(admitted_count(limiter, 1, after, clock.at(1500), 5) == 2);
        CHECK(admitted_count(limiter, 1, after, clock.at(2500), 10) == 5);
        // Back to the old plan: the 10 s window starts empty (dropped, no seed).
        limiter.reshape(1, before, seed{}, clock.at(2600).steady, clock.at(2600).wall);
        CHECK(admitted_count(limiter, 1, before, clock.at(3500), 10) == 5);
    }
    SECTION("an exact window that becomes slotted, and back, keeps its admits") {
        const policy exact = make("1m:60");
        for (std::int64_t ms = 0; ms < 30000; ms += 1000)
            REQUIRE(decide(limiter, 1, exact, clock.at(ms)).admitted);
        // 30 held; raised to 100 (slotted): 70 more in this minute.
        const policy slotted = make("1m:100");
        CHECK(admitted_count(limiter, 1, slotted, clock.at(30000), 100) == 70);
        // Lowered back to 60 with 100 held: nothing until 41 have left.
        CHECK(admitted_count(limiter, 1, exact, clock.at(40000), 5) == 0);
        // Admits at 0..29 s, one a second, and 70 at 30 s: the 41st oldest is at 30 s, which a
        // slotted minute (1 s slots) lets go once its slot has, before 91 s.
        CHECK(admitted_count(limiter, 1, exact, clock.at(89999), 1) == 0);
        CHECK(admitted_count(limiter, 1, exact, clock.at(91000), 100) == 60);
        CHECK(admitted_count(limiter, 1, exact, clock.at(91001), 1) == 0);
    }
    SECTION("adopt seeds windows new to the terms, even when a decision already made them") {
        const policy before = make("1s:50");
        REQUIRE(admitted_count(limiter, 1, before, clock.at(0), 10) == 10);
        const policy after = make("1s:50,1m:14,day:30");
        // The change is visible to requests first: one decision lays the new windows out empty.
        REQUIRE(admitted_count(limiter, 1, after, clock.at(100), 1) == 1);
        // Usage read after the change holds all 11 admits, today's count 25.
        const std::int64_t now_s = (clock.wall0 + 200) / second_ms;
        seed s;
        s.admits = {{now_s, 11}};
        s.day = 25;
        const auto m = clock.at(200);
        limiter.adopt(1, after, before, s, m.steady, m.wall);
        // The 1 s window kept its 11 (not 22); the minute has the 11 admits plus the one it
        // recorded itself (counted twice, so stricter: 2 left, not 3); the day starts from 25.
        CHECK(admitted_count(limiter, 1, after, clock.at(300), 10) == 2);
        // A minute on, the day's 27 leave three.
        CHECK(admitted_count(limiter, 1, after, clock.at(61000), 10) == 3);
    }
    SECTION("a calendar quota keeps its count across a plan change") {
        REQUIRE(admitted_count(limiter, 1, make("day:10"), clock.at(0), 10) == 10);
        CHECK(admitted_count(limiter, 1, make("day:15"), clock.at(10), 10) == 5);
        CHECK(admitted_count(limiter, 1, make("day:12,1s:100"), clock.at(20), 10) == 0);
        // A month quota new to the state starts empty (no seed given).
        CHECK(admitted_count(limiter, 1, make("day:30,month:5"), clock.at(30), 10) == 5);
    }
}

TEST_CASE("a steady clock that steps back hands out nothing", "[policy_limiter]") {
    const manual_clock clock;
    const policy p = make("1s:5,10s:8");
    policy_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 5) == 5);
    CHECK(admitted_count(limiter, 1, p, clock.at(-5000), 5) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at(999), 5) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at(1000), 5) == 3);
    // Admits at a stepped-back time are filed at the latest time seen.
    CHECK(admitted_count(limiter, 1, p, clock.at(2000), 1) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at(-20000), 1) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.at(10000), 8) == 5);
}

TEST_CASE("a wall clock that steps back keeps counting in the latest day", "[policy_limiter]") {
    manual_clock clock;
    clock.wall0 = unix_ms("2026-03-14T23:59:59Z");
    const policy p = make("day:4");
    policy_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 4) == 4);
    REQUIRE(admitted_count(limiter, 1, p, clock.at(1000), 2) == 2);  // the 15th
    // The wall clock goes back into the 14th: the 15th keeps counting.
    const std::int64_t back = unix_ms("2026-03-14T23:00:00Z");
    const auto d = decide(limiter, 1, p, clock.with_wall(2000, back));
    CHECK(d.admitted);
    CHECK(d.limits[0].remaining == 1);
    // And waits for the end of the 15th as the wall clock now reads it.
    CHECK(admitted_count(limiter, 1, p, clock.with_wall(2000, back), 2) == 1);
    const auto full = decide(limiter, 1, p, clock.with_wall(2000, back));
    CHECK_FALSE(full.admitted);
    CHECK(full.retry_after == milliseconds(unix_ms("2026-03-16T00:00:00Z") - back));
    CHECK(admitted_count(limiter, 1, p, clock.with_wall(3000, unix_ms("2026-03-15T12:00:00Z")),
                         1) == 0);
    CHECK(admitted_count(limiter, 1, p, clock.with_wall(4000, unix_ms("2026-03-16T00:00:00Z")),
                         5) == 4);
}

TEST_CASE("a refund gives one admit back in every window, never a newer one", "[policy_limiter]") {
    const manual_clock clock;
    const policy p = make("1s:3,1m:100,day:4");
    policy_limiter limiter;
    REQUIRE(decide(limiter, 1, p, clock.at(0)).admitted);
    REQUIRE(decide(limiter, 1, p, clock.at(100)).admitted);
    REQUIRE(decide(limiter, 1, p, clock.at(200)).admitted);
    REQUIRE_FALSE(decide(limiter, 1, p, clock.at(300)).admitted);

    limiter.refund(1, clock.at(100).steady, clock.at(100).wall);
    const auto d = decide(limiter, 1, p, clock.at(400));
    CHECK(d.admitted);
    CHECK(d.limits[0].remaining == 0);
    CHECK(d.limits[1].remaining == 97);
    CHECK(d.limits[2].remaining == 1);
    // Left: 0, 200, 400 ms. One frees at 1000, one at 1200.
    CHECK(admitted_count(limiter, 1, p, clock.at(1000), 2) == 1);
    CHECK(admitted_count(limiter, 1, p, clock.at(1100), 1) == 0);
    // The day quota is now full: the refund gave back exactly one.
    CHECK(admitted_count(limiter, 1, p, clock.at(1200), 1) == 0);
    CHECK(violated(decide(limiter, 1, p, clock.at(1200))) == std::vector<bool>{false, false, true});

    // A refund after the clock stepped back takes back no newer admit.
    policy_limiter other;
    const policy two = make("1s:2");
    REQUIRE(decide(other, 1, two, clock.at(0)).admitted);
    REQUIRE(decide(other, 1, two, clock.at(-800)).admitted);  // filed at 0
    other.refund(1, clock.at(-800).steady, clock.at(-800).wall);
    CHECK(admitted_count(other, 1, two, clock.at(500), 1) == 1);
    CHECK(admitted_count(other, 1, two, clock.at(600), 1) == 0);
    // Refunding a user without state is harmless.
    other.refund(9, clock.at(0).steady, clock.at(0).wall);
    CHECK(other.active_users() == 1);
}

TEST_CASE("a refund of an admit from yesterday leaves today's count alone", "[policy_limiter]") {
    manual_clock clock;
    clock.wall0 = unix_ms("2026-03-14T23:59:59Z");
    const policy p = make("day:2");
    policy_limiter limiter;
    REQUIRE(decide(limiter, 1, p, clock.at(0)).admitted);
    REQUIRE(admitted_count(limiter, 1, p, clock.at(1000), 2) == 2);
    limiter.refund(1, clock.at(0).steady, clock.at(0).wall);
    CHECK(admitted_count(limiter, 1, p, clock.at(2000), 1) == 0);
}

TEST_CASE("forget_idle drops idle sliding windows but keeps calendar counts for their period",
          "[policy_limiter]") {
    manual_clock clock;
    clock.wall0 = unix_ms("2026-03-14T22:00:00Z");
    const policy p = make("1s:10,1m:300,day:10000");
    policy_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 7) == 7);
    REQUIRE(admitted_count(limiter, 2, make("1s:10"), clock.at(0), 3) == 3);
    REQUIRE(admitted_count(limiter, 3, p, clock.at(30000), 1) == 1);
    const std::size_t full = limiter.state_bytes(1);
    REQUIRE(limiter.active_users() == 3);

    // User 2 has been idle for its 1 s window and has no calendar quota: gone. The minute
    // window is still live for user 1 at 59.999 s.
    CHECK(limiter.forget_idle(clock.at(59999).steady, clock.at(59999).wall) == 2);
    CHECK(limiter.state_bytes(1) == full);
    CHECK(limiter.state_bytes(2) == 0);
    // At 60 s user 1 is idle: the day count stays, compactly.
    CHECK(limiter.forget_idle(clock.at(60000).steady, clock.at(60000).wall) == 2);
    CHECK(limiter.state_bytes(1) < full / 4);
    CHECK(limiter.state_bytes(3) == full);

    // User 1 comes back: the sliding windows start empty, the day remembers 7.
    const auto d = decide(limiter, 1, p, clock.at(70000));
    CHECK(d.admitted);
    CHECK(d.limits[0].remaining == 9);
    CHECK(d.limits[1].remaining == 299);
    CHECK(d.limits[2].remaining == 10000 - 8);

    // After midnight the counts of the old day are gone with the state.
    const std::int64_t after_midnight = 2 * 3600 * second_ms + 5000;
    CHECK(limiter.forget_idle(clock.at(after_midnight).steady, clock.at(after_midnight).wall) == 0);
    CHECK(limiter.active_users() == 0);
}

TEST_CASE("forget drops one user's state", "[policy_limiter]") {
    const manual_clock clock;
    const policy p = make("1s:10,day:100");
    policy_limiter limiter;
    REQUIRE(admitted_count(limiter, 1, p, clock.at(0), 10) == 10);
    REQUIRE(admitted_count(limiter, 65, p, clock.at(0), 10) == 10);  // same shard
    limiter.forget(1);
    limiter.forget(12345);  // never seen
    CHECK(limiter.active_users() == 1);
    CHECK(admitted_count(limiter, 1, p, clock.at(0), 10) == 10);
    CHECK(admitted_count(limiter, 65, p, clock.at(0), 1) == 0);
}

TEST_CASE("restore puts admits at the latest moment they could have happened", "[policy_limiter]") {
    manual_clock clock;
    clock.wall0 = unix_ms("2026-03-14T12:00:00Z") + 400;  // 400 ms into a wall second
    const std::int64_t now_s = clock.wall0 / second_ms;
    const auto m = clock.at(0);
    policy_limiter limiter;

    SECTION("a second's admits count until a window after that second ends") {
        const policy p = make("1s:10,10s:30");
        seed s;
        s.admits = {{now_s - 1, 4}, {now_s, 6}};
        limiter.restore(1, p, s, m.steady, m.wall);
        // The 6 of this second are filed at now (its end is still ahead); the 4 of the last
        // second at its end, 400 ms ago.
        CHECK(admitted_count(limiter, 1, p, clock.at(599), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(600), 5) == 4);
        CHECK(admitted_count(limiter, 1, p, clock.at(1000), 10) == 6);
        // The 10 s window holds all 20.
        CHECK(admitted_count(limiter, 1, p, clock.at(5000), 20) == 10);
    }
    SECTION("more than the quota keeps only the newest") {
        const policy p = make("1s:10");
        seed s;
        s.admits = {{now_s, 50}, {now_s - 1, 8}};
        limiter.restore(1, p, s, m.steady, m.wall);
        CHECK(admitted_count(limiter, 1, p, clock.at(999), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(1000), 11) == 10);
    }
    SECTION("restores per key add up; calendar counts take the larger") {
        const policy p = make("1s:10,day:100,month:1000");
        seed a;
        a.admits = {{now_s, 3}};
        a.day = 60;
        a.month = 900;
        seed b;
        b.admits = {{now_s, 4}};
        b.day = 60;
        limiter.restore(1, p, a, m.steady, m.wall);
        limiter.restore(1, p, b, m.steady, m.wall);
        const auto d = decide(limiter, 1, p, clock.at(1));
        CHECK(d.admitted);
        CHECK(d.limits[0].remaining == 2);
        CHECK(d.limits[1].remaining == 39);
        CHECK(d.limits[2].remaining == 99);
    }
    SECTION("a slotted window is seeded per slot") {
        const policy p = make("1m:300");
        seed s;
        for (std::int64_t k = 0; k < 60; ++k) s.admits.push_back({now_s - k, 5});
        limiter.restore(1, p, s, m.steady, m.wall);
        // 300 admits in the last minute: full. The oldest second's 5 (filed 58.4 s ago, in
        // the 1 s slot that ends 58 s ago) leave first.
        CHECK(admitted_count(limiter, 1, p, clock.at(0), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(1999), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(2000), 20) == 5);
    }
    SECTION("a future second (wall clock stepped back since) counts as now") {
        const policy p = make("1s:10");
        seed s;
        s.admits = {{now_s + 3, 10}};
        limiter.restore(1, p, s, m.steady, m.wall);
        CHECK(admitted_count(limiter, 1, p, clock.at(999), 1) == 0);
        CHECK(admitted_count(limiter, 1, p, clock.at(1000), 10) == 10);
    }
    CHECK(limiter.active_users() == 1);
}

TEST_CASE("a slotted window is never looser than exact w, never stricter than exact w + g",
          "[policy_limiter]") {
    const auto seed = GENERATE(range(1, 25));
    CAPTURE(seed);
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const std::vector<std::string> policies = {"1s:70", "1s:100", "10s:200", "1m:300", "90s:1000"};
    const policy p = make(policies[static_cast<std::size_t>(seed) % policies.size()]);
    const limit l = p.limits[0];
    const std::int64_t w = std::int64_t{l.seconds} * 1000000;
    const std::int64_t g = slot_us(l.seconds);
    // Bursts and gaps on the scale of the window; times in microseconds.
    std::uniform_int_distribution<std::int64_t> gap(0, 3 * w / l.quota);
    std::uniform_int_distribution<int> pick(0, 99);
    std::uniform_int_distribution<std::int64_t> pause(0, w);

    const manual_clock clock;
    policy_limiter limiter;
    std::vector<std::int64_t> admits;
    std::int64_t now = 0;
    std::size_t over_exact = 0, under_wider = 0;
    for (int i = 0; i < 6000; ++i) {
        const int roll = pick(rng);
        if (roll < 2)
            now += pause(rng);
        else if (roll >= 30)
            now += gap(rng);
        const std::size_t exact = in_window(admits, now, w);
        const std::size_t wider = in_window(admits, now, w + g);
        const bool admitted = decide(limiter, 1, p, clock.at_us(now)).admitted;
        over_exact += admitted && exact >= l.quota;
        under_wider += !admitted && wider < l.quota;
        if (admitted) admits.push_back(now);
    }
    CHECK(over_exact == 0);
    CHECK(under_wider == 0);
    CHECK(busiest(admits, w) <= l.quota);
    CHECK(admits.size() > l.quota);
}

TEST_CASE("many threads deciding for one user at one instant admit exactly the tightest quota",
          "[policy_limiter]") {
    const manual_clock clock;
    const policy p = make(
        GENERATE(as<std::string>{}, "1s:25,1m:300,day:10000", "1s:1000,day:700", "10s:64,1h:100"));
    CAPTURE(to_string(p));
    std::uint32_t tightest = UINT32_MAX;
    for (const limit& l : p.limits) tightest = std::min(tightest, l.quota);
    policy_limiter limiter;
    std::atomic<std::uint32_t> admitted{0};
    run_together(16, [&](int) {
        for (int i = 0; i < 2000; ++i) admitted += decide(limiter, 42, p, clock.at(0)).admitted;
    });
    CHECK(admitted.load() == tightest);
}

TEST_CASE("many threads with an advancing clock never exceed any window's quota",
          "[policy_limiter]") {
    // Each user's requests take their time from one shared counter; "read the clock, decide" is
    // serialised per user so the recorded times are the ones the limiter saw. Different users
    // (three sharing a shard) still hit the limiter concurrently.
    const manual_clock clock;
    const policy p = make("1s:5,10s:20,1m:300");
    const std::vector<user_id> users = {5, 69, 133, 6};
    std::vector<std::mutex> user_locks(users.size());
    std::vector<std::vector<std::int64_t>> admits(users.size());
    std::atomic<std::int64_t> ticks{0};  // one tick is 3 ms
    policy_limiter limiter;

    run_together(8, [&](int thread) {
        std::mt19937 rng(static_cast<unsigned>(thread));
        for (int i = 0; i < 6000; ++i) {
            const std::size_t u = rng() % users.size();
            std::lock_guard lock(user_locks[u]);
            const std::int64_t now = 3 * ticks.fetch_add(1);
            if (decide(limiter, users[u], p, clock.at(now)).admitted) admits[u].push_back(now);
        }
    });
    for (std::size_t u = 0; u < users.size(); ++u) {
        CAPTURE(users[u]);
        CHECK(busiest(admits[u], 1000) == 5);
        CHECK(busiest(admits[u], 10000) == 20);
    }
}

TEST_CASE("many threads meeting many new users at once admit exactly q each", "[policy_limiter]") {
    const manual_clock clock;
    const policy p = make("1s:5,day:100");
    constexpr std::size_t user_count = 3000;
    std::vector<std::atomic<std::uint32_t>> admitted(user_count);
    policy_limiter limiter;
    run_together(8, [&](int thread) {
        for (int round = 0; round < 2; ++round)
            for (std::size_t i = 0; i < user_count; ++i) {
                const std::size_t u = (i + static_cast<std::size_t>(thread) * 397) % user_count;
                admitted[u] += decide(limiter, static_cast<user_id>(u), p, clock.at(0)).admitted;
            }
    });
    CHECK(limiter.active_users() == user_count);
    std::size_t exact = 0;
    for (const auto& a : admitted) exact += a.load() == 5;
    CHECK(exact == user_count);
}

TEST_CASE("a user on 1s:10, 1m:300 and day:10000 fits in one small allocation",
          "[policy_limiter]") {
    const manual_clock clock;
    policy_limiter limiter;
    limiter.reserve(1000);
    const policy p = make("1s:10,1m:300,day:10000");
    REQUIRE(decide(limiter, 7, p, clock.at(0)).admitted);
    CHECK(limiter.state_bytes(7) <= 216);
    CHECK(limiter.state_bytes(8) == 0);
    // A long plan stays bounded whatever the quota.
    REQUIRE(decide(limiter, 9, make("1s:100000,1m:1000000,1h:1000000,day:1000000000"), clock.at(0))
                .admitted);
    CHECK(limiter.state_bytes(9) <= 1024);
}

TEST_CASE("a state rebases its 32-bit times as the clock runs for hours", "[policy_limiter]") {
    const manual_clock clock;
    const policy p = make("1s:3,1h:50");
    policy_limiter limiter;
    std::vector<std::int64_t> admits;
    // Ten hours of a request every 7 s, with bursts now and then.
    for (std::int64_t ms = 0; ms < 10 * 3600 * second_ms; ms += 7000) {
        const int burst = ms % 70000 == 0 ? 6 : 1;
        for (int i = 0; i < burst; ++i)
            if (decide(limiter, 1, p, clock.at(ms)).admitted) admits.push_back(ms);
    }
    CHECK(busiest(admits, 1000) <= 3);
    CHECK(busiest(admits, 3600 * second_ms) == 50);
    // A long silence, then the same again.
    const std::int64_t later = 30 * 3600 * second_ms;
    CHECK(admitted_count(limiter, 1, p, clock.at(later), 5) == 3);
}
