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

// A range scan of one resolution: buckets with from <= start < until, in (start, key_id) order.
struct usage_range {
    usage_resolution resolution = usage_resolution::second;
    unix_seconds from = 0;
    unix_seconds until = 0;
    // Only these keys (sorted ascending), found by seeking past the others; null: every key.
    const std::vector<std::uint64_t>* keys = nullptr;
};

// What one resolution holds: buckets in [kept_from, folded_until). Older ones were expired;
// newer ones are not rolled up yet (for `second`, folded_until is the far future).
struct usage_coverage {
    unix_seconds kept_from = 0;
    unix_seconds folded_until = 0;
};

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
    void for_each_usage(const usage_range& range,
                        const std::function<void(const usage_bucket&)>& visit) const;
    // Drops every per-second bucket older than `cutoff` with one range tombstone, no scan.
    void expire_usage_before(unix_seconds cutoff);
    // The same for any resolution; also records the cutoff, so reports know what is gone.
    void expire_usage_before(usage_resolution resolution, unix_seconds cutoff);

    // Roll-ups: sums every whole minute (hour) that ends at or before `through` from the
    // per-second (per-minute) buckets into `into`, at most `max_periods` periods with data per
    // call. Each period's sums are Put (not merged) together with the watermark in one atomic
    // write, so folding a period again, after a crash or otherwise, never double counts.
    // Returns the number of periods written. Hours are folded only from folded minutes. Minutes
    // (and their hours) that got usage after they were folded are folded again first.
    std::size_t fold_usage(usage_resolution into, unix_seconds through,
                           std::size_t max_periods = 1000);
    usage_coverage coverage(usage_resolution resolution) const;

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
