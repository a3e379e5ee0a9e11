#pragma once
// The answer to one request under a policy: admitted or not, and per limit what is left.

#include <array>
#include <chrono>
#include <cstdint>

#include "limiter/policy.hpp"

namespace rl::limiter {

struct limit_reading {
    // Quota left in the window after this decision.
    std::uint32_t remaining = 0;
    // Sliding windows: until the window frees quota, i.e. until it has room again when it is full
    // and until its oldest admit leaves when it is not (zero when it holds nothing). Calendar
    // quotas: until the period ends (00:00 UTC; the 1st for a month).
    std::chrono::nanoseconds reset_after{0};
    // The window had no room, so the request was rejected (also) because of it.
    bool violated = false;
};

// Fixed size, no allocation: one reading per limit of the policy, in the policy's order.
struct policy_decision {
    bool admitted = true;
    std::uint8_t count = 0;    // limits in the policy
    std::uint8_t closest = 0;  // the limit with the least remaining (ties: the longest wait)
    // Until every violated limit has room; zero when admitted.
    std::chrono::nanoseconds retry_after{0};
    std::array<limit_reading, max_limits> limits{};
};

}  // namespace rl::limiter
