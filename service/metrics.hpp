#pragma once
// Counters for /metrics, in the Prometheus text format. Updated lock-free on the request path.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "service/limit_outcome.hpp"

namespace rl::service {

// How metrics and the access log name an outcome: `outcome` is admitted, limited,
// shadow_limited, unauthorized, forbidden, unavailable (503) or bad_request (400); `reason` says
// which kind of 401, 403 or 503 (null otherwise).
struct outcome_names {
    std::string_view outcome;
    const char* reason;
};
outcome_names names_of(limit_outcome outcome) noexcept;

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
    // Cluster mode only (absent on one node).
    struct cluster_gauges {
        std::size_t groups_owned = 0;  // groups this node admits for now
        double lease_remaining_s = 0;  // until its lease could expire, by its own clock
        std::int64_t catalog_lag = 0;  // revisions etcd is ahead of what this node applied
        std::uint64_t fences = 0;      // times a group stopped admitting here
        std::uint64_t acquisitions = 0;
        std::uint64_t releases = 0;
    };
    std::optional<cluster_gauges> cluster;
};

// Upper bounds of the /limit latency histogram: handling takes microseconds, a group-commit
// wait behind a slow disk can take milliseconds, and anything past a second is an outage.
inline constexpr std::array<std::chrono::nanoseconds, 14> latency_bounds = {
    std::chrono::microseconds(50),  std::chrono::microseconds(100), std::chrono::microseconds(250),
    std::chrono::microseconds(500), std::chrono::milliseconds(1),   std::chrono::microseconds(2500),
    std::chrono::milliseconds(5),   std::chrono::milliseconds(10),  std::chrono::milliseconds(25),
    std::chrono::milliseconds(50),  std::chrono::milliseconds(100), std::chrono::milliseconds(250),
    std::chrono::milliseconds(500), std::chrono::seconds(1)};

class metrics {
public:
    void count(limit_outcome outcome) noexcept {
        mine().decisions[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t decisions(limit_outcome outcome) const noexcept;

    // One /limit request, from reading it to handing its reply to the socket. Two relaxed
    // increments; the cumulative buckets and the count are summed only when rendered.
    void observe_latency(std::chrono::nanoseconds took) noexcept {
        std::size_t bucket = 0;
        while (bucket < latency_bounds.size() && took > latency_bounds[bucket]) ++bucket;
        shard& s = mine();
        s.latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
        s.latency_sum_ns.fetch_add(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, took.count())),
            std::memory_order_relaxed);
    }
    std::uint64_t latency_count() const noexcept;

    std::string render(const gauges& now) const;

private:
    // Each worker thread counts into its own cache lines, so threads never contend for a counter
    // on the request path; rendering sums the shards.
    struct alignas(64) shard {
        std::array<std::atomic<std::uint64_t>, limit_outcome_count> decisions{};
        std::array<std::atomic<std::uint64_t>, latency_bounds.size() + 1> latency_buckets{};
        std::atomic<std::uint64_t> latency_sum_ns{0};
    };
    static constexpr std::size_t shard_count = 16;

    shard& mine() noexcept {
        static std::atomic<std::size_t> next_thread{0};
        thread_local const std::size_t index =
            next_thread.fetch_add(1, std::memory_order_relaxed) % shard_count;
        return shards_[index];
    }

    std::array<shard, shard_count> shards_{};
    std::int64_t started_at_ = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
};

}  // namespace rl::service
