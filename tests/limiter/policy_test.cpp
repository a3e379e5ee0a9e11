#include "limiter/policy.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "common/time_text.hpp"

namespace {

using rl::limiter::day_limit;
using rl::limiter::limit;
using rl::limiter::month_limit;
using rl::limiter::parse_limit;
using rl::limiter::parse_policy;
using rl::limiter::sliding_limit;
using rl::limiter::to_string;
using rl::limiter::wall_time;
using rl::limiter::window_kind;

wall_time utc(const char* rfc3339) {
    const auto t = rl::common::parse_rfc3339(rfc3339);
    REQUIRE(t);
    return wall_time(std::chrono::seconds(*t));
}

}  // namespace

TEST_CASE("limits parse from the grammar and print back the same", "[policy]") {
    const auto [text, expected] = GENERATE(table<std::string, limit>({
        {"1s:10", sliding_limit(1, 10)},
        {"10s:20", sliding_limit(10, 20)},
        {"90s:5", sliding_limit(90, 5)},
        {"1m:300", sliding_limit(60, 300)},
        {"15m:1000", sliding_limit(900, 1000)},
        {"1h:5000", sliding_limit(3600, 5000)},
        {"59m:7", sliding_limit(3540, 7)},
        {"3599s:7", sliding_limit(3599, 7)},
        {"day:10000", day_limit(10000)},
        {"month:100000", month_limit(100000)},
        {"1s:100000", sliding_limit(1, 100000)},
        {"day:1000000000", day_limit(1000000000)},
    }));
    CAPTURE(text);
    const auto parsed = parse_limit(text);
    REQUIRE(parsed);
    CHECK(*parsed.value == expected);
    CHECK(parsed.error.empty());
    CHECK(to_string(*parsed.value) == text);
}

TEST_CASE("a bare number is a quota per second", "[policy]") {
    const auto parsed = parse_limit("25");
    REQUIRE(parsed);
    CHECK(*parsed.value == sliding_limit(1, 25));
    CHECK(to_string(*parsed.value) == "1s:25");
}

TEST_CASE("a sliding window prints in the largest unit that divides it", "[policy]") {
    const auto [text, printed] = GENERATE(table<std::string, std::string>({
        {"60s:5", "1m:5"},
        {"120s:5", "2m:5"},
        {"3600s:5", "1h:5"},
        {"60m:5", "1h:5"},
        {"90s:5", "90s:5"},
        {"600s:5", "10m:5"},
    }));
    CAPTURE(text);
    const auto parsed = parse_limit(text);
    REQUIRE(parsed);
    CHECK(to_string(*parsed.value) == printed);
    CHECK(*parse_limit(printed).value == *parsed.value);
}

TEST_CASE("a limit's header name is its window", "[policy]") {
    CHECK(rl::limiter::window_name(sliding_limit(1, 10)) == "1s");
    CHECK(rl::limiter::window_name(sliding_limit(60, 10)) == "1m");
    CHECK(rl::limiter::window_name(sliding_limit(90, 10)) == "90s");
    CHECK(rl::limiter::window_name(day_limit(10)) == "day");
    CHECK(rl::limiter::window_name(month_limit(10)) == "month");
}

TEST_CASE("malformed limits are refused with a message naming them", "[policy]") {
    const auto [text, says] = GENERATE(table<std::string, std::string>({
        {"", "cannot be empty"},
        {"0", "from 1 to 100000"},
        {"1s:0", "from 1 to 100000"},
        {"1s:", "from 1 to 100000"},
        {":5", "the window must be"},
        {"1x:5", "the window must be"},
        {"1d:5", "the window must be"},
        {"week:5", "the window must be"},
        {"DAY:5", "the window must be"},
        {"s:5", "the window must be"},
        {"1.5s:3", "the window must be"},
        {"-1s:3", "the window must be"},
        {"0s:5", "at least 1s"},
        {"0m:5", "at least 1s"},
        {"2h:5", "at most 1h"},
        {"61m:5", "at most 1h"},
        {"3601s:5", "at most 1h"},
        {"99999999999s:5", "the window must be"},
        {"1s:100001", "from 1 to 100000"},
        {"day:1000000001", "from 1 to 1000000000"},
        {"1s:-5", "from 1 to 100000"},
        {"1s:+5", "from 1 to 100000"},
        {"1s:5 ", "from 1 to 100000"},
        {"1s:10:5", "WINDOW:QUOTA"},
        {"1m", "WINDOW:QUOTA"},
        {"12345678901", "from 1 to 100000"},
    }));
    CAPTURE(text);
    const auto parsed = parse_limit(text);
    CHECK_FALSE(parsed);
    CHECK_THAT(parsed.error, Catch::Contains(says));
    if (!text.empty()) CHECK_THAT(parsed.error, Catch::Contains("\"" + text + "\""));
}

TEST_CASE("longer windows allow larger quotas", "[policy]") {
    using rl::limiter::quota_ceiling;
    CHECK(quota_ceiling(window_kind::sliding, 1) == 100000);
    CHECK(quota_ceiling(window_kind::sliding, 10) == 1000000);
    CHECK(quota_ceiling(window_kind::sliding, 3600) == 360000000);
    CHECK(quota_ceiling(window_kind::day, 86400) == 1000000000);
    CHECK(quota_ceiling(window_kind::month, 0) == 1000000000);
    CHECK(parse_limit("10s:1000000"));
    CHECK_FALSE(parse_limit("10s:1000001"));
    CHECK(parse_limit("1h:360000000"));
    CHECK_FALSE(parse_limit("1h:360000001"));
}

TEST_CASE("limits built by hand are checked", "[policy]") {
    using rl::limiter::check;
    CHECK_FALSE(check(sliding_limit(1, 10)));
    CHECK(check(sliding_limit(0, 10)));
    CHECK(check(sliding_limit(3601, 10)));
    CHECK(check(sliding_limit(1, 0)));
    CHECK(check(limit{window_kind::day, 3600, 10}));
    CHECK(check(limit{window_kind::month, 86400, 10}));
    CHECK_FALSE(check(day_limit(1)));
    CHECK_FALSE(check(month_limit(1)));
}

TEST_CASE("a policy is its limits sorted by window, printed joined by commas", "[policy]") {
    const auto parsed = parse_policy("day:10000, 1m:300,1s:10");
    REQUIRE(parsed);
    CHECK(parsed.value->limits ==
          std::vector<limit>{sliding_limit(1, 10), sliding_limit(60, 300), day_limit(10000)});
    CHECK(to_string(*parsed.value) == "1s:10,1m:300,day:10000");
    CHECK(*parse_policy(to_string(*parsed.value)).value == *parsed.value);

    const auto month_first = parse_policy("month:9,day:3,1h:2,90s:1");
    REQUIRE(month_first);
    CHECK(to_string(*month_first.value) == "90s:1,1h:2,day:3,month:9");
    CHECK(to_string(*parse_policy("7").value) == "1s:7");
}

TEST_CASE("policies without limits, with too many, or with a window twice are refused",
          "[policy]") {
    const auto [text, says] = GENERATE(table<std::string, std::string>({
        {"", "cannot be empty"},
        {"1s:10,", "cannot be empty"},
        {"1s:10,,1m:5", "cannot be empty"},
        {"60s:5,1m:10", "two limits on the window 1m (1m:5 and 1m:10)"},
        {"day:5,day:6", "two limits on the window day"},
        {"1s:1,2s:2,3s:3,4s:4,5s:5,6s:6,7s:7,8s:8,9s:9", "at most 8 limits"},
        {"1s:10,2h:5", "at most 1h"},
    }));
    CAPTURE(text);
    const auto parsed = parse_policy(text);
    CHECK_FALSE(parsed);
    CHECK_THAT(parsed.error, Catch::Contains(says));
    CHECK(rl::limiter::make_policy({}).error == "a policy needs at least one limit");
}

TEST_CASE("eight limits are a policy", "[policy]") {
    const auto parsed = parse_policy("1s:1,2s:2,3s:3,4s:4,5s:5,6s:6,day:7,month:8");
    REQUIRE(parsed);
    CHECK(parsed.value->limits.size() == 8);
}

TEST_CASE("a calendar quota's window is the length of its UTC period", "[policy]") {
    using rl::limiter::period_seconds;
    constexpr std::uint32_t day = 86400;
    CHECK(period_seconds(sliding_limit(90, 1), utc("2024-02-10T00:00:00Z")) == 90);
    CHECK(period_seconds(day_limit(1), utc("2024-02-10T12:00:00Z")) == day);
    CHECK(period_seconds(month_limit(1), utc("2024-02-01T00:00:00Z")) == 29 * day);
    CHECK(period_seconds(month_limit(1), utc("2024-02-29T23:59:59Z")) == 29 * day);
    CHECK(period_seconds(month_limit(1), utc("2023-02-15T00:00:00Z")) == 28 * day);
    CHECK(period_seconds(month_limit(1), utc("2100-02-15T00:00:00Z")) == 28 * day);
    CHECK(period_seconds(month_limit(1), utc("2000-02-15T00:00:00Z")) == 29 * day);
    CHECK(period_seconds(month_limit(1), utc("2026-01-31T23:59:59Z")) == 31 * day);
    CHECK(period_seconds(month_limit(1), utc("2026-04-30T10:00:00Z")) == 30 * day);
    CHECK(period_seconds(month_limit(1), utc("2026-12-01T00:00:00Z")) == 31 * day);
    CHECK(period_seconds(month_limit(1), utc("1969-12-31T23:59:59Z")) == 31 * day);
}
