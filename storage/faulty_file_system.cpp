#include "storage/faulty_file_system.hpp"

#include <optional>

namespace rl::storage {

namespace {

// The error a faulty disk gives right now, checked before the real call so a refused call writes
// nothing.
std::optional<rocksdb::IOStatus> refusal(faulty_disk& disk) {
    switch (disk.fault()) {
        case disk_fault::none: return std::nullopt;
        case disk_fault::io_error:
            disk.count_refusal();
            return rocksdb::IOStatus::IOError("injected write fault");
        case disk_fault::no_space:
            disk.count_refusal();
            return rocksdb::IOStatus::NoSpace("injected disk full");
    }
    return std::nullopt;
}

class faulty_file : public rocksdb::FSWritableFileOwnerWrapper {
public:
    faulty_file(std::unique_ptr<rocksdb::FSWritableFile> file, faulty_disk& disk)
        : FSWritableFileOwnerWrapper(std::move(file)), disk_(disk) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Append(data, options, dbg));
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Append(data, options, info, dbg));
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Flush(options, dbg));
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Sync(options, dbg));
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Fsync(options, dbg));
    }

private:
    std::optional<rocksdb::IOStatus> refused() { return refusal(disk_); }
    faulty_disk& disk_;
};

}  // namespace

faulty_file_system::faulty_file_system(std::shared_ptr<faulty_disk> disk)
    : FileSystemWrapper(rocksdb::FileSystem::Default()), disk_(std::move(disk)) {}

rocksdb::IOStatus faulty_file_system::NewWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* file, rocksdb::IODebugContext* dbg) {
    if (auto error = refusal(*disk_)) return *error;
    return wrap(FileSystemWrapper::NewWritableFile(name, options, file, dbg), file);
}

rocksdb::IOStatus faulty_file_system::ReopenWritableFile(
    const std::string& name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* file, rocksdb::IODebugContext* dbg) {
    if (auto error = refusal(*disk_)) return *error;
    return wrap(FileSystemWrapper::ReopenWritableFile(name, options, file, dbg), file);
}

rocksdb::IOStatus faulty_file_system::ReuseWritableFile(
    const std::string& name, const std::string& old_name, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* file, rocksdb::IODebugContext* dbg) {
    if (auto error = refusal(*disk_)) return *error;
    return wrap(FileSystemWrapper::ReuseWritableFile(name, old_name, options, file, dbg), file);
}

rocksdb::IOStatus faulty_file_system::wrap(rocksdb::IOStatus status,
                                           std::unique_ptr<rocksdb::FSWritableFile>* file) {
    if (status.ok()) *file = std::make_unique<faulty_file>(std::move(*file), *disk_);
    return status;
}

}  // namespace rl::storage
