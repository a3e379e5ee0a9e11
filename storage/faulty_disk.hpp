#pragma once
// A disk that can be told to fail, for tests: a data_dir opened on it (open_options::disk) writes
// through it, and from fail_writes() until heal() every file write, sync and create fails the
// way a read-only or full disk does. No RocksDB type leaves storage/.

#include <atomic>
#include <cstdint>
#include <memory>

namespace rl::storage {

enum class disk_fault {
    none,
    io_error,  // like EIO or EROFS
    no_space,  // like ENOSPC
};

class faulty_disk {
public:
    faulty_disk() = default;

    void fail_writes(disk_fault fault) noexcept { fault_.store(fault, std::memory_order_release); }
    void heal() noexcept { fail_writes(disk_fault::none); }
    disk_fault fault() const noexcept { return fault_.load(std::memory_order_acquire); }

    // Writes refused so far.
    std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
    void count_refusal() noexcept { refused_.fetch_add(1, std::memory_order_relaxed); }

private:
    std::atomic<disk_fault> fault_{disk_fault::none};
    std::atomic<std::uint64_t> refused_{0};
};

}  // namespace rl::storage
