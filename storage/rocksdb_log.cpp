#include "storage/rocksdb_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace rl::storage {

rocksdb_log::rocksdb_log(const std::string& path) : Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {
    std::error_code ec;
    if (std::filesystem::file_size(path, ec) > rotate_at && !ec)
        std::filesystem::rename(path, path + ".old", ec);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

// RocksDB's background threads log on their own; the lock orders their last line before the
// close, so a late line can never go to a descriptor number reused since.
rocksdb_log::~rocksdb_log() {
    std::lock_guard lock(mutex_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void rocksdb_log::Logv(const char* format, va_list ap) {
    char line[2048];
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1'000'000;
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    std::size_t n = std::strftime(line, sizeof line, "%Y/%m/%d-%H:%M:%S", &utc);
    n += static_cast<std::size_t>(
        std::snprintf(line + n, sizeof line - n, ".%06lld ", static_cast<long long>(micros)));
    const int body = std::vsnprintf(line + n, sizeof line - n, format, ap);
    if (body > 0) n = std::min(sizeof line - 1, n + static_cast<std::size_t>(body));
    if (line[n - 1] != '\n') line[n++] = '\n';
    std::lock_guard lock(mutex_);
    [[maybe_unused]] const ssize_t written = fd_ >= 0 ? ::write(fd_, line, n) : 0;
}

}  // namespace rl::storage
