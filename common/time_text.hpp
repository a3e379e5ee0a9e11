#pragma once
// Durations ("90s", "5m", "1h", "30d") and RFC 3339 timestamps as people type and read them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <ratio>
#include <string>
#include <string_view>

namespace rl::common {

// Unix time in whole seconds (wall clock).
using unix_seconds = std::int64_t;

unix_seconds wall_now() noexcept;

// The start of the epoch-aligned period of `period` seconds that holds `t` (floor division).
constexpr unix_seconds floor_to(unix_seconds t, std::int64_t period) noexcept {
    return t - ((t % period) + period) % period;
}

using days = std::chrono::duration<std::int64_t, std::ratio<86400>>;

// "<n>s|m|h|d|w"; a bare number means seconds. Nothing else, no overflow.
std::optional<std::chrono::seconds> parse_duration(std::string_view text) noexcept;

// The same, in milliseconds, also taking "<n>ms" (cluster timings: 1250ms, 3s).
std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view text) noexcept;

// The text parse_duration reads back, in the duration's own unit: hours(48) is "48h".
template <typename Rep, typename Period>
std::string duration_text(std::chrono::duration<Rep, Period> d) {
    using seconds_per_unit = std::ratio_divide<Period, std::ratio<1>>;
    static_assert(seconds_per_unit::den == 1, "whole seconds only");
    constexpr char unit = seconds_per_unit::num == 86400  ? 'd'
                          : seconds_per_unit::num == 3600 ? 'h'
                          : seconds_per_unit::num == 60   ? 'm'
                                                          : 's';
    const auto count = unit == 's' ? std::chrono::duration_cast<std::chrono::seconds>(d).count()
                                   : static_cast<std::int64_t>(d.count());
    return std::to_string(count) + unit;
}

// "2026-11-27T21:30:00Z", with optional fraction and a Z or ±hh:mm offset.
std::optional<unix_seconds> parse_rfc3339(std::string_view text) noexcept;

// Always UTC with a Z, whole seconds.
std::string format_rfc3339(unix_seconds t);
// The same with milliseconds: "2026-11-27T21:30:00.123Z".
std::string format_rfc3339_ms(std::int64_t unix_ms);

// For report bounds: "now", an RFC 3339 time, or a duration meaning that long before `now`.
std::optional<unix_seconds> parse_time_point(std::string_view text, unix_seconds now) noexcept;

}  // namespace rl::common
