#include "service/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iterator>
#include <stdexcept>

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

bool write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// A quiet log still reaches the file within a fifth of a second.
constexpr std::chrono::milliseconds quiet_flush{200};

int open_log(const std::string& path) {
    if (path == "-") return STDOUT_FILENO;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        throw std::runtime_error(
            fmt::format("--access-log: cannot open {}: {}", path, std::strerror(errno)));
    return fd;
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

access_log::access_log(const std::string& path)
    : fd_(open_log(path)),
      owns_fd_(path != "-"),
      writer_(quiet_flush, [this] { write_pending(); }) {}

access_log::~access_log() {
    writer_.stop();
    write_pending();  // what arrived while the writer finished
    if (owns_fd_) ::close(fd_);
}

void access_log::write(const access_entry& entry) noexcept {
    try {
        // Formatted outside the lock; the lock covers one append.
        thread_local std::string line;
        line.clear();
        append_access_line(line, entry);
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            if (pending_.size() + line.size() > max_buffered) {
                ++dropped_;
                return;
            }
            pending_ += line;
            wake = pending_.size() >= flush_at;
        }
        if (wake) writer_.wake();
    } catch (...) {  // allocation failure: the line is lost, the request is not
    }
}

std::uint64_t access_log::dropped() const noexcept {
    std::lock_guard lock(mutex_);
    return dropped_;
}

void access_log::write_pending() {
    {
        std::lock_guard lock(mutex_);
        writing_.swap(pending_);
    }
    if (writing_.empty()) return;
    const bool ok = write_all(fd_, writing_);
    if (!ok && !failing_)  // once per failure spell, not once per flush
        fmt::print(stderr, "ratelimitd: access log write failed: {}\n", std::strerror(errno));
    failing_ = !ok;
    writing_.clear();
}

}  // namespace rl::service
