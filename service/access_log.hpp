#pragma once
// The optional access log: one JSON object per line and per /limit request, naming the key by
// its public key_id, never the key. Lines are formatted on the request thread; a log_file
// writes them in the background, so a slow disk never stalls /limit.

#include <cstdint>
#include <string>
#include <string_view>

#include "service/limit_outcome.hpp"
#include "service/log_file.hpp"

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
    explicit access_log(const std::string& path) : file_(path, "--access-log") {}

    void write(const access_entry& entry) noexcept;

    // Lines dropped because the writer fell behind.
    std::uint64_t dropped() const noexcept { return file_.dropped(); }

private:
    log_file file_;
};

}  // namespace rl::service
