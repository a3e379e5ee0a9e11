#pragma once
// Counts decisions into the per-second usage buckets: many requests, one write, in the WAL
// before any of their replies is sent.

#include <atomic>
#include <cstdint>
#include <vector>

#include "storage/store.hpp"

namespace rl::service {

struct usage_event {
    std::uint64_t key_id = 0;
    common::unix_seconds second = 0;
    bool admitted = false;
};

class usage_recorder {
public:
    explicit usage_recorder(storage::store& store) : store_(store) {}

    // Writes the events as one batch, same (second, key) summed. False when storage refused
    // the write; the caller decides what the requests get.
    bool record(const std::vector<usage_event>& events) noexcept;

    std::uint64_t batches() const noexcept { return batches_.load(std::memory_order_relaxed); }
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    storage::store& store_;
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> failures_{0};
};

}  // namespace rl::service
