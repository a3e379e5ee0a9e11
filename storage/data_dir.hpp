#pragma once
// The data directory: one RocksDB database seen through two narrow stores, the catalog (users
// and keys) and usage, plus its health. No RocksDB type leaves storage/.

#include <cstdint>
#include <memory>
#include <string>

#include "storage/backup.hpp"
#include "storage/catalog_store.hpp"
#include "storage/faulty_disk.hpp"
#include "storage/storage_error.hpp"
#include "storage/storage_health.hpp"
#include "storage/usage_store.hpp"

namespace rl::storage {

class database;

struct open_options {
    // Tests only: every file RocksDB writes goes through this disk, so faults can be injected.
    std::shared_ptr<faulty_disk> disk;
};

class data_dir {
public:
    // Opens or creates the directory (mode 0700). Throws storage_error.
    static std::unique_ptr<data_dir> open(const std::string& path,
                                          const open_options& options = {});
    ~data_dir();
    data_dir(const data_dir&) = delete;
    data_dir& operator=(const data_dir&) = delete;

    catalog_store& catalog() noexcept { return catalog_; }
    const catalog_store& catalog() const noexcept { return catalog_; }
    usage_store& usage() noexcept { return usage_; }
    const usage_store& usage() const noexcept { return usage_; }
    // Set by every failed write, cleared by resume().
    storage_health& health() noexcept;
    const storage_health& health() const noexcept;

    // After a failed write every write is refused until storage is resumed. True once writes
    // are accepted again (at once when nothing failed); false, with the reason, while the
    // fault lasts.
    bool resume(std::string* error = nullptr) noexcept;

    // Makes everything written durable (WAL fsync).
    void flush();
    // Writes memtables to files and compacts everything (maintenance and measurement; slow).
    void compact();
    // Bytes of table files (SST) under the directory, i.e. what the data costs on disk.
    std::uint64_t table_bytes() const;
    const std::string& directory() const noexcept;
    // A consistent copy of the whole database into `target`, a path that must not exist yet,
    // while reads and writes go on. Throws storage_error (code exists when `target` does).
    backup_manifest backup(const std::string& target) const;

private:
    explicit data_dir(std::unique_ptr<database> db);
    std::unique_ptr<database> db_;  // first: the stores use it
    catalog_store catalog_;
    usage_store usage_;
};

}  // namespace rl::storage
