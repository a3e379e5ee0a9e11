#pragma once
// The one RocksDB database under a data directory: open, schema check, options, the write turn,
// reopen after a fatal write error, and storage health. Private to storage/ (and its tests):
// the catalog and usage stores are its only users.

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/backup.hpp"
#include "storage/faulty_disk.hpp"
#include "storage/records.hpp"
#include "storage/schema.hpp"
#include "storage/storage_error.hpp"
#include "storage/storage_health.hpp"

namespace rl::storage {

// Throws the storage_error a failed status stands for.
[[noreturn]] void fail(const rocksdb::Status& status, std::string_view doing);
void check(const rocksdb::Status& status, std::string_view doing);
// Throws storage_errc::corruption for a stored value that does not decode.
[[noreturn]] void corrupt(std::string_view what);

class database {
public:
    // Opens or creates the directory (mode 0700) and checks its schema. `disk` (tests only)
    // routes every file RocksDB writes through a faulty disk. Throws storage_error.
    static std::unique_ptr<database> open(const std::string& directory,
                                          std::shared_ptr<faulty_disk> disk = nullptr);
    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    // The open database, held for one use: a reopen waits until every session has ended.
    class session {
    public:
        rocksdb::DB& db() const noexcept { return *owner_->db_; }
        rocksdb::ColumnFamilyHandle* family(schema::family f) const noexcept {
            return owner_->handles_[static_cast<std::size_t>(f)];
        }

        // Synced before it returns (catalog, schema). Throws storage_error.
        void write_synced(rocksdb::WriteBatch& batch, std::string_view doing) const;
        // In the WAL, not fsynced (usage, roll-ups). Throws storage_error.
        void write_logged(rocksdb::WriteBatch& batch, std::string_view doing) const;
        // The same without throwing, for the request path.
        rocksdb::Status try_write_logged(rocksdb::WriteBatch& batch) const noexcept;
        // Held only in TSan builds: see database::write.
        std::unique_lock<std::mutex> write_turn() const { return owner_->write_turn(); }

        // A number kept as decimal text under a meta key; nullopt when not set.
        std::optional<std::int64_t> meta_number(const std::string& name) const;
        // A time kept the same way.
        std::optional<unix_seconds> meta_time(const std::string& name) const {
            return meta_number(name);
        }

    private:
        friend class database;
        session(database& owner, std::shared_lock<std::shared_mutex> lock)
            : owner_(&owner), lock_(std::move(lock)) {}
        database* owner_;
        std::shared_lock<std::shared_mutex> lock_;
    };

    // Throws storage_error while the database is closed after a failed reopen.
    session use();

    const std::string& directory() const noexcept { return directory_; }
    storage_health& health() noexcept { return health_; }

    // After a failed write RocksDB refuses every write until it is resumed, or closed and opened
    // again. True once writes are accepted (at once when nothing failed).
    bool resume(std::string* error) noexcept;

    void flush();    // the WAL fsynced
    void compact();  // memtables to files, everything compacted
    std::uint64_t table_bytes() const;
    // A checkpoint of everything written so far into `target` (which must not exist), and its
    // manifest. Sessions go on meanwhile. Throws storage_error.
    backup_manifest backup(const std::string& target);

private:
    explicit database(std::string directory);
    rocksdb::Status write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch);
    std::unique_lock<std::mutex> write_turn();  // held only in TSan builds (see write)
    rocksdb::Status open_db();
    rocksdb::Status reopen();
    void close() noexcept;
    void check_schema(bool fresh);

    std::string directory_;
    std::unique_ptr<rocksdb::Env> env_;  // tests' faulty disk; declared first, so it outlives db_
    rocksdb::DBOptions db_options_;
    std::vector<rocksdb::ColumnFamilyDescriptor> families_;
    // Held shared by every session, exclusively by reopen(): nothing may use the database while
    // it is closed and opened again.
    std::shared_mutex gate_;
    std::unique_ptr<rocksdb::DB> db_;                    // null while a reopen has failed
    std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by schema::family
    rocksdb::WriteOptions synced_;
    rocksdb::WriteOptions logged_;
    std::mutex tsan_write_turn_;
    storage_health health_;
};

// An iterator over the keys in [begin, end) of one family, positioned at `begin`. Made and
// destroyed in the write turn under TSan: the iterator shares the memtable's cached range
// tombstones, which a write adding a range deletion replaces.
struct range_cursor {
    range_cursor(const database::session& session, schema::family family, std::string begin,
                 std::string end);
    ~range_cursor();
    range_cursor(const range_cursor&) = delete;
    range_cursor& operator=(const range_cursor&) = delete;

    const database::session& session;
    std::string upper;
    rocksdb::Slice upper_slice;
    rocksdb::ReadOptions options;
    std::unique_ptr<rocksdb::Iterator> it;
};

}  // namespace rl::storage
