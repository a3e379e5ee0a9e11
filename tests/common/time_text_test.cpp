#include "common/time_text.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace {

using namespace rl::common;

std::optional<std::int64_t> seconds_of(const char* text) {
    const auto d = parse_duration(text);
    if (!d) return std::nullopt;
    return d->count();
}

constexpr unix_seconds nov_27_2026_2130 = 1795815000;  // 2026-11-27T21:30:00Z

}  // namespace

TEST_CASE("durations take s, m, h, d or w, and a bare number means seconds", "[time_text]") {
    CHECK(seconds_of("90s") == 90);
    CHECK(seconds_of("5m") == 300);
    CHECK(seconds_of("1h") == 3600);
    CHECK(seconds_of("30d") == 30 * 86400);
    CHECK(seconds_of("1w") == 7 * 86400);
    CHECK(seconds_of("45") == 45);
    CHECK(seconds_of("0s") == 0);
    CHECK(seconds_of("048h") == 48 * 3600);
}

TEST_CASE("durations reject anything else and anything that would overflow", "[time_text]") {
    for (const char* text :
         {"", "h", "s", "-1h", "+1h", "1x", "1.5h", " 1h", "1h ", "1hh", "1H", "1 h", "h1", "1e3",
          "99999999999w", "999999999999d", "9223372036854775807", "100000000000000000000s",
          "18446744073709551621s"}) {  // 2^64 + 5: wraps to 5 if unchecked
        CAPTURE(text);
        CHECK_FALSE(parse_duration(text).has_value());
    }
}

TEST_CASE("RFC 3339 timestamps in UTC parse to Unix seconds", "[time_text]") {
    CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339("2026-11-27T21:30:00Z") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27t21:30:00z") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27 21:30:00Z") == nov_27_2026_2130);
    CHECK(parse_rfc3339("1969-12-31T23:59:59Z") == -1);
}

TEST_CASE("RFC 3339 offsets are subtracted to give UTC", "[time_text]") {
    CHECK(parse_rfc3339("2026-11-27T22:30:00+01:00") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27T16:00:00-05:30") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27T21:30:00+00:00") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27T21:30:00-00:00") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-28T00:00:00+02:30") == nov_27_2026_2130);
}

TEST_CASE("RFC 3339 fractions of a second are accepted and dropped", "[time_text]") {
    CHECK(parse_rfc3339("2026-11-27T21:30:00.5Z") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27T21:30:00.999999999Z") == nov_27_2026_2130);
    CHECK(parse_rfc3339("2026-11-27T22:30:00.123+01:00") == nov_27_2026_2130);
}

TEST_CASE("RFC 3339 dates follow the Gregorian leap year rules", "[time_text]") {
    CHECK(parse_rfc3339("2024-02-29T12:00:00Z") == 1709208000);
    CHECK(parse_rfc3339("2000-02-29T00:00:00Z") == 951782400);
    CHECK_FALSE(parse_rfc3339("2023-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("1900-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2024-02-30T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2026-04-31T00:00:00Z").has_value());
    CHECK(parse_rfc3339("2026-12-31T23:59:59Z").has_value());
}

TEST_CASE("malformed RFC 3339 timestamps are rejected", "[time_text]") {
    for (const char* text : {"",
                             "2026-11-27",
                             "2026-11-27T21:30:00",
                             "2026-11-27T21:30Z",
                             "2026-13-01T00:00:00Z",
                             "2026-00-10T00:00:00Z",
                             "2026-11-00T00:00:00Z",
                             "2026-11-27T24:00:00Z",
                             "2026-11-27T21:60:00Z",
                             "2026-11-27T21:30:61Z",
                             "2026-11-27T21:30:00.Z",
                             "2026-11-27T21:30:00+0100",
                             "2026-11-27T21:30:00+24:00",
                             "2026-11-27T21:30:00+01:60",
                             "2026-11-27T21:30:00Zjunk",
                             "2026-11-27X21:30:00Z",
                             "2026-1-27T21:30:00Z",
                             "+026-11-27T21:30:00Z",
                             "2026-11-27T21:30:00 Z",
                             "2026-11-27T2a:30:00Z"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_rfc3339(text).has_value());
    }
}

TEST_CASE("format_rfc3339 writes UTC with a Z and parses back", "[time_text]") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
    CHECK(format_rfc3339(nov_27_2026_2130) == "2026-11-27T21:30:00Z");
    CHECK(format_rfc3339(951782400) == "2000-02-29T00:00:00Z");
    CHECK(format_rfc3339(253402300799) == "9999-12-31T23:59:59Z");

    for (unix_seconds t :
         {unix_seconds{0}, unix_seconds{1}, unix_seconds{951782399}, unix_seconds{1709208000},
          nov_27_2026_2130, unix_seconds{4102444800}, unix_seconds{253402300799}}) {
        CAPTURE(t);
        CHECK(parse_rfc3339(format_rfc3339(t)) == t);
    }
}

TEST_CASE("report bounds are now, an RFC 3339 time, or a duration before now", "[time_text]") {
    const unix_seconds now = nov_27_2026_2130;
    CHECK(parse_time_point("now", now) == now);
    CHECK(parse_time_point("1h", now) == now - 3600);
    CHECK(parse_time_point("90", now) == now - 90);
    CHECK(parse_time_point("2026-11-27T00:00:00Z", now) == now - 77400);
    CHECK_FALSE(parse_time_point("", now).has_value());
    CHECK_FALSE(parse_time_point("yesterday", now).has_value());
    CHECK_FALSE(parse_time_point("-1h", now).has_value());
    CHECK_FALSE(parse_time_point("NOW", now).has_value());
}

TEST_CASE("wall_now reads the system clock in whole seconds", "[time_text]") {
    // The same clock on both sides: std::time() reads the kernel's coarse clock, which can still
    // show the last second for up to a tick after system_clock has moved on.
    const auto seconds = [] {
        return static_cast<unix_seconds>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    };
    const unix_seconds before = seconds();
    const unix_seconds now = wall_now();
    const unix_seconds after = seconds();
    CHECK(now >= before);
    CHECK(now <= after);
}

TEST_CASE("duration_text writes a duration in its own unit, as parse_duration reads it") {
    using rl::common::duration_text;
    CHECK(duration_text(std::chrono::seconds(60)) == "60s");
    CHECK(duration_text(std::chrono::minutes(5)) == "5m");
    CHECK(duration_text(std::chrono::hours(48)) == "48h");
    CHECK(duration_text(rl::common::days(400)) == "400d");
    CHECK(rl::common::parse_duration(duration_text(std::chrono::hours(48))) ==
          std::chrono::hours(48));
}
