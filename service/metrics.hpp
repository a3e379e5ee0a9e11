#pragma once
// Counters for /metrics, in the Prometheus text format. Updated lock-free on the request path.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace rl::service {

// Every /limit answer falls in exactly one of these.
enum class limit_outcome : std::uint8_t {
    admitted,
    limited,
    missing_key,
    invalid_key,
    expired_key,
    user_disabled,
    not_ready,
    storage_unavailable,
};
inline constexpr std::size_t limit_outcome_count = 8;

struct gauges {
    std::size_t users = 0;
    std::size_t keys = 0;
    std::size_t active_users = 0;
    std::uint64_t usage_batches = 0;
    std::uint64_t usage_write_errors = 0;
    bool ready = false;
    std::uint64_t storage_errors = 0;
    bool storage_healthy = true;
    std::size_t usage_held_buckets = 0;
};

class metrics {
public:
    void count(limit_outcome outcome) noexcept {
        decisions_[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t decisions(limit_outcome outcome) const noexcept {
        return decisions_[static_cast<std::size_t>(outcome)].load(std::memory_order_relaxed);
    }
    std::string render(const gauges& now) const;

private:
    std::array<std::atomic<std::uint64_t>, limit_outcome_count> decisions_{};
};

}  // namespace rl::service
