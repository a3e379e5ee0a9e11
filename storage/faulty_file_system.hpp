#pragma once
// The RocksDB file system behind a faulty_disk (tests only): fails every write, sync and file
// creation while the disk says so. Internal to storage/.

#include <rocksdb/file_system.h>

#include <memory>
#include <string>

#include "storage/faulty_disk.hpp"

namespace rl::storage {

class faulty_file_system : public rocksdb::FileSystemWrapper {
public:
    explicit faulty_file_system(std::shared_ptr<faulty_disk> disk);
    const char* Name() const override { return "rl_faulty_disk"; }

    rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* dbg) override;
    rocksdb::IOStatus ReopenWritableFile(const std::string& name,
                                         const rocksdb::FileOptions& options,
                                         std::unique_ptr<rocksdb::FSWritableFile>* file,
                                         rocksdb::IODebugContext* dbg) override;
    rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSWritableFile>* file,
                                        rocksdb::IODebugContext* dbg) override;

private:
    rocksdb::IOStatus wrap(rocksdb::IOStatus status,
                           std::unique_ptr<rocksdb::FSWritableFile>* file);
    std::shared_ptr<faulty_disk> disk_;
};

}  // namespace rl::storage
