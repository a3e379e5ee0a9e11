#include "service/log_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace rl::service {

namespace {

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

int open_log(const std::string& path, std::string_view flag) {
    if (path == "-") return STDOUT_FILENO;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        throw std::runtime_error(
            fmt::format("{}: cannot open {}: {}", flag, path, std::strerror(errno)));
    return fd;
}

}  // namespace

log_file::log_file(const std::string& path, std::string_view flag)
    : flag_(flag),
      fd_(open_log(path, flag)),
      owns_fd_(path != "-"),
      writer_(quiet_flush, [this] { write_pending(); }) {}

log_file::~log_file() {
    writer_.stop();
    write_pending();  // what arrived while the writer finished
    if (owns_fd_) ::close(fd_);
}

void log_file::append(std::string_view lines) noexcept {
    try {
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            if (pending_.size() + lines.size() > max_buffered) {
                ++dropped_;
                return;
            }
            pending_ += lines;
            wake = pending_.size() >= flush_at;
        }
        if (wake) writer_.wake();
    } catch (...) {  // allocation failure: the line is lost, the request is not
    }
}

std::uint64_t log_file::dropped() const noexcept {
    std::lock_guard lock(mutex_);
    return dropped_;
}

void log_file::write_pending() {
    {
        std::lock_guard lock(mutex_);
        writing_.swap(pending_);
    }
    if (writing_.empty()) return;
    const bool ok = write_all(fd_, writing_);
    if (!ok && !failing_)  // once per failure spell, not once per flush
        fmt::print(stderr, "ratelimitd: {} write failed: {}\n", flag_, std::strerror(errno));
    failing_ = !ok;
    writing_.clear();
}

}  // namespace rl::service
