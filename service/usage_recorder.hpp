#pragma once
// Counts each decision into the per-second usage buckets, in the WAL before the reply is sent.

#include <atomic>
#include <cstdint>

#include "storage/store.hpp"

namespace rl::service {

class usage_recorder {
public:
    explicit usage_recorder(storage::store& store) : store_(store) {}

    // False when storage refused the write; the caller decides what the request gets.
    bool record(std::uint64_t key_id, common::unix_seconds second, bool admitted) noexcept;

    std::uint64_t writes() const noexcept { return writes_.load(std::memory_order_relaxed); }
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    storage::store& store_;
    std::atomic<std::uint64_t> writes_{0};
    std::atomic<std::uint64_t> failures_{0};
};

}  // namespace rl::service
