#pragma once
// Durations ("90s", "5m", "1h", "30d") and RFC 3339 timestamps as people type and read them.

#include <chrono>
#include <cstdint>
#include <optional>
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

// "<n>s|m|h|d|w"; a bare number means seconds. Nothing else, no overflow.
std::optional<std::chrono::seconds> parse_duration(std::string_view text) noexcept;

// "2026-11-27T21:30:00Z", with optional fraction and a Z or ±hh:mm offset.
std::optional<unix_seconds> parse_rfc3339(std::string_view text) noexcept;

// Always UTC with a Z, whole seconds.
std::string format_rfc3339(unix_seconds t);

// For report bounds: "now", an RFC 3339 time, or a duration meaning that long before `now`.
std::optional<unix_seconds> parse_time_point(std::string_view text, unix_seconds now) noexcept;

}  // namespace rl::common
