#pragma once
// An append-only log of lines (the access log, the audit log): lines are added to a shared
// buffer on the caller's thread and a background thread writes them, so a slow disk never
// stalls a request. Opened O_APPEND, so a logrotate copytruncate keeps working.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/periodic_worker.hpp"

namespace rl::service {

class log_file {
public:
    // `path` is a file (appended to, created 0640) or "-" for stdout; `flag` names it in errors.
    // Throws std::runtime_error when it cannot be opened.
    log_file(const std::string& path, std::string_view flag);
    ~log_file();  // writes out what is still buffered
    log_file(const log_file&) = delete;
    log_file& operator=(const log_file&) = delete;

    // One or more whole lines, each ending in '\n'.
    void append(std::string_view lines) noexcept;

    // Lines dropped because the writer fell more than max_buffered bytes behind.
    std::uint64_t dropped() const noexcept;

    static constexpr std::size_t flush_at = 64 * 1024;             // wake the writer
    static constexpr std::size_t max_buffered = 16 * 1024 * 1024;  // then drop, rather than grow

private:
    // Writes out what is buffered; on the writer thread, and once more after it stopped.
    void write_pending();

    std::string flag_;
    int fd_ = -1;
    bool owns_fd_ = false;
    mutable std::mutex mutex_;  // pending_ and dropped_
    std::string pending_;
    std::uint64_t dropped_ = 0;
    std::string writing_;             // the writer's; swapped with pending_
    bool failing_ = false;            // the writer's: the last write failed
    common::periodic_worker writer_;  // last: starts after the members it uses
};

}  // namespace rl::service
