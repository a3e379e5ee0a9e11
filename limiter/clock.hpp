#pragma once
// The two clocks the limiter is told about: it never reads either itself.

#include <chrono>
#include <cstdint>

namespace rl::limiter {

// Sliding windows run on the monotonic clock.
using time_point = std::chrono::steady_clock::time_point;
// Calendar quotas (day, month, UTC) run on the wall clock.
using wall_time = std::chrono::system_clock::time_point;
// Users are numbered densely from 1 by the key index.
using user_id = std::uint32_t;

// Division rounding towards minus infinity, for times that may lie before an epoch.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

}  // namespace rl::limiter
