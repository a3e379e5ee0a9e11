#pragma once
// The data directory: users, API keys (as SHA-256 only) and per-second usage, in RocksDB.
// Callers see domain types and storage_error; no RocksDB type leaves storage/.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "storage/faulty_disk.hpp"
#include "storage/records.hpp"

namespace rl::storage {

enum class storage_errc {
    io_error,         // the disk or RocksDB failed
    locked,           // another process holds the data directory
    schema_mismatch,  // written by an incompatible version
    corruption,       // a stored value does not decode
};

class storage_error : public std::runtime_error {
public:
    storage_error(storage_errc code, const std::string& what)
        : std::runtime_error(what), code_(code) {}
    storage_errc code() const noexcept { return code_; }

private:
    storage_errc code_;
};

inline constexpr int schema_version = 1;

// Users and keys written together in one atomic, synced write (bulk import).
struct catalog_batch {
    std::vector<user_record> users;
    std::vector<key_record> keys;
};

struct store_options {
    // Tests only: every file RocksDB writes goes through this disk, so faults can be injected.
    std::shared_ptr<faulty_disk> disk;
};

class store {
public:
    // Opens or creates the directory (mode 0700). Throws storage_error.
    static std::unique_ptr<store> open(const std::string& directory,
                                       const store_options& options = {});
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    const std::string& directory() const noexcept;

    // Users and keys: every write is synced before it returns.
    std::optional<user_record> find_user(std::string_view name) const;
    std::vector<user_record> list_users() const;
    void put_user(const user_record& user);
    // Deletes the user and every key of theirs in one atomic write.
    void delete_user(std::string_view name);

    std::optional<key_record> find_key(const key_hash& hash) const;
    std::optional<key_record> find_key_by_id(std::uint64_t key_id) const;
    void for_each_key(const std::function<void(const key_record&)>& visit) const;
    void put_key(const key_record& key);

    void write(const catalog_batch& batch);

    // Usage: in the WAL (the OS has it, a killed process loses nothing) when this returns true;
    // not fsynced. Never throws: false means the write failed, and `error` (if given) says why.
    bool add_usage(const std::vector<usage_bucket>& buckets, std::string* error = nullptr) noexcept;

    // After a failed write RocksDB refuses every write until it is resumed. True once writes are
    // accepted again (at once when nothing failed); false, with the reason, while the fault lasts.
    bool resume(std::string* error = nullptr) noexcept;
    // Buckets with from <= second < until, in (second, key_id) order.
    void for_each_usage(unix_seconds from, unix_seconds until,
                        const std::function<void(const usage_bucket&)>& visit) const;
    // Drops every bucket older than `cutoff` with one range tombstone, no scan.
    void expire_usage_before(unix_seconds cutoff);

    // Makes everything written durable (WAL fsync).
    void flush();

    // Writes memtables to files and compacts everything (maintenance and measurement; slow).
    void compact();

    // Bytes of table files (SST) under the directory, i.e. what the data costs on disk.
    std::uint64_t table_bytes() const;

private:
    struct impl;
    explicit store(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> impl_;
};

}  // namespace rl::storage
