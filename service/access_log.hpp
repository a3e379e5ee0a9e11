#pragma once
// The optional access log: one JSON object per line and per /limit request, naming the key by
// its public key_id, never the key. Lines are formatted on the request thread into a shared
// buffer; a background thread writes them, so a slow disk never stalls /limit.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "common/periodic_worker.hpp"
#include "service/limit_outcome.hpp"

namespace rl::service {

struct access_entry {
    std::int64_t unix_ms = 0;
    std::string_view remote;  // "ip:port"
    std::string_view method;
    std::string_view path;
    int status = 0;
    limit_outcome outcome = limit_outcome::missing_key;
    std::uint64_t key_id = 0;  // 0: no known key
    std::string_view user;     // empty: no user
    std::int64_t latency_us = 0;
};

// {"time":"2026-11-27T21:30:00.123Z","remote":...,"latency_us":87}\n, JSON-escaped.
void append_access_line(std::string& out, const access_entry& entry);

class access_log {
public:
    // `path` is a file (appended to, created 0640) or "-" for stdout. Throws std::runtime_error
    // when it cannot be opened.
    explicit access_log(const std::string& path);
    ~access_log();  // writes out what is still buffered
    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;

    void write(const access_entry& entry) noexcept;

    // Lines dropped because the writer fell more than max_buffered bytes behind.
    std::uint64_t dropped() const noexcept;

    static constexpr std::size_t flush_at = 64 * 1024;             // wake the writer
    static constexpr std::size_t max_buffered = 16 * 1024 * 1024;  // then drop, rather than grow

private:
    // Writes out what is buffered; on the writer thread, and once more after it stopped.
    void write_pending();

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
