#pragma once
// RocksDB's own LOG, written with plain write(2). RocksDB's buffered file writer aborts the
// process (an assertion Debian's build keeps) when it is used again after a failed write, and a
// full disk makes that certain for the LOG, which is written on every error. A line that cannot
// be written is dropped instead. Internal to storage/.

#include <rocksdb/env.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace rl::storage {

class rocksdb_log : public rocksdb::Logger {
public:
    // A LOG past this size is moved to LOG.old when the directory is opened.
    static constexpr std::uintmax_t rotate_at = 16 << 20;

    explicit rocksdb_log(const std::string& path);
    ~rocksdb_log() override;

    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override;

private:
    std::mutex mutex_;  // orders a background thread's last line before the close
    int fd_ = -1;
};

}  // namespace rl::storage
