#pragma once
// UTC calendar periods for day and month quotas, as days since 1970-01-01.

#include <cstdint>

#include "limiter/clock.hpp"
#include "limiter/policy.hpp"

namespace rl::limiter::calendar {

inline constexpr std::int64_t ms_per_day = 86'400'000;

// Whole milliseconds since the Unix epoch (rounded down).
std::int64_t unix_ms(wall_time t) noexcept;

// The first day of the day or month period that holds `unix_day`.
std::int32_t period_start(window_kind kind, std::int64_t unix_day) noexcept;

// The first day after the period that starts on `start`.
std::int32_t period_end(window_kind kind, std::int32_t start) noexcept;

}  // namespace rl::limiter::calendar
