#include "service/access_log.hpp"

#include <fmt/format.h>

#include <ctime>
#include <iterator>

#include "common/api_key.hpp"
#include "service/metrics.hpp"

namespace rl::service {

namespace {

void append_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            fmt::format_to(std::back_inserter(out), "\\u{:04x}", u);
        } else {
            out += c;  // paths arrive percent-encoded; other bytes pass as they are
        }
    }
    out += '"';
}

void append_time(std::string& out, std::int64_t unix_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    fmt::format_to(std::back_inserter(out), "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                   utc.tm_sec, unix_ms % 1000);
}

}  // namespace

void append_access_line(std::string& out, const access_entry& e) {
    const outcome_names names = names_of(e.outcome);
    out += "{\"time\":";
    append_time(out, e.unix_ms);
    out += ",\"remote\":";
    append_json_string(out, e.remote);
    out += ",\"method\":";
    append_json_string(out, e.method);
    out += ",\"path\":";
    append_json_string(out, e.path);
    fmt::format_to(std::back_inserter(out),
                   ",\"status\":{},\"outcome\":\"{}\",\"reason\":", e.status, names.outcome);
    if (names.reason)
        fmt::format_to(std::back_inserter(out), "\"{}\"", names.reason);
    else
        out += "null";
    out += ",\"key_id\":";
    if (e.key_id != 0)
        fmt::format_to(std::back_inserter(out), "\"{}\"", common::format_key_id(e.key_id));
    else
        out += "null";
    out += ",\"user\":";
    if (e.user.empty())
        out += "null";
    else
        append_json_string(out, e.user);
    fmt::format_to(std::back_inserter(out), ",\"latency_us\":{}}}\n", e.latency_us);
}

void access_log::write(const access_entry& entry) noexcept {
    try {
        // Formatted outside the log's lock; the lock covers one append.
        thread_local std::string line;
        line.clear();
        append_access_line(line, entry);
        file_.append(line);
    } catch (...) {  // allocation failure: the line is lost, the request is not
    }
}

}  // namespace rl::service
