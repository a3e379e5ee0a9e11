#pragma once
// The optional audit log: one JSON line per admin change (POST, PATCH, DELETE), whether it
// succeeded or not, with the record as it was before and after. Keys appear by key_id only:
// a key's plain text is never written.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "service/log_file.hpp"

namespace rl::service {

struct audit_entry {
    std::int64_t unix_ms = 0;
    std::string_view token;   // which token made the change: "full" or "read-only"
    std::string_view remote;  // "ip:port"
    std::string_view method;
    std::string_view path;  // as requested, percent-encoded
    int status = 0;
    nlohmann::json before;  // null: no such record before
    nlohmann::json after;   // null: none after (deleted, or the change failed)
};

// {"time":"2026-11-27T21:30:00.123Z","token":"full",...,"after":{...}}\n
std::string audit_line(const audit_entry& entry);

class audit_log {
public:
    // `path` is a file (appended to, created 0640) or "-" for stdout. Throws std::runtime_error
    // when it cannot be opened.
    explicit audit_log(const std::string& path) : file_(path, "--audit-log") {}

    void write(const audit_entry& entry) noexcept;

private:
    log_file file_;
};

}  // namespace rl::service
