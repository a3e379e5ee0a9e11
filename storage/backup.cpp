#include "storage/backup.hpp"

#include <rocksdb/utilities/checkpoint.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/version.hpp"
#include "storage/data_dir.hpp"
#include "storage/database.hpp"
#include "storage/schema.hpp"

namespace rl::storage {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view manifest_format = "ratelimitd-backup 1";

[[noreturn]] void io_failure(const std::string& what, const std::error_code& ec) {
    throw storage_error(storage_errc::io_error, what + ": " + ec.message());
}

void write_manifest(const std::string& directory, const backup_manifest& m) {
    const std::string path = directory + "/" + std::string(backup_manifest_file);
    std::ofstream out(path, std::ios::trunc);
    out << manifest_format << '\n'
        << "schema_version " << m.schema_version << '\n'
        << "taken_at " << common::format_rfc3339(m.taken_at) << '\n'
        << "revision " << m.revision << '\n'
        << "sequence " << m.sequence << '\n';
    out.flush();
    if (!out) throw storage_error(storage_errc::io_error, "cannot write " + path);
}

// True when `path` is absent or an empty directory.
bool empty_or_absent(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return !ec;
    return fs::is_directory(path, ec) && fs::is_empty(path, ec);
}

}  // namespace

backup_manifest database::backup(const std::string& target) {
    std::error_code ec;
    if (fs::exists(target, ec))
        throw storage_error(storage_errc::exists, target + " already exists; give a new path");
    backup_manifest manifest;
    manifest.schema_version = schema_version;
    manifest.taken_at = common::wall_now();
    manifest.revision = common::revision();
    {
        const auto s = use();
        rocksdb::Checkpoint* raw = nullptr;
        check(rocksdb::Checkpoint::Create(&s.db(), &raw), "start backup");
        std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
        // Memtables are flushed first, so the copy needs no WAL replay to hold everything
        // written before it started. The flush joins RocksDB's write queue.
        const auto turn = write_turn();
        check(checkpoint->CreateCheckpoint(target, 0, &manifest.sequence), "back up to " + target);
    }
    try {
        write_manifest(target, manifest);
    } catch (...) {
        fs::remove_all(target, ec);  // a copy without a manifest would be refused by restore
        throw;
    }
    return manifest;
}

backup_manifest read_backup_manifest(const std::string& directory) {
    const std::string path = directory + "/" + std::string(backup_manifest_file);
    std::ifstream in(path);
    if (!in)
        throw storage_error(storage_errc::io_error, directory + " is not a ratelimitd backup: no " +
                                                        std::string(backup_manifest_file) +
                                                        " file");
    std::string line;
    std::getline(in, line);
    if (line != manifest_format)
        throw storage_error(storage_errc::corruption, path + ": unknown format '" + line + "'");
    backup_manifest m;
    bool has_version = false;
    while (std::getline(in, line)) {
        const auto space = line.find(' ');
        const std::string name = line.substr(0, space);
        const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
        try {
            if (name == "schema_version") {
                m.schema_version = std::stoi(value);
                has_version = true;
            } else if (name == "taken_at") {
                m.taken_at = common::parse_rfc3339(value).value_or(0);
            } else if (name == "revision") {
                m.revision = value;
            } else if (name == "sequence") {
                m.sequence = std::stoull(value);
            }
        } catch (const std::exception&) {
            throw storage_error(storage_errc::corruption, path + ": bad line '" + line + "'");
        }
    }
    if (!has_version)
        throw storage_error(storage_errc::corruption, path + ": no schema_version line");
    return m;
}

copy_progress directory_size(const std::string& directory) {
    copy_progress size;
    std::error_code ec;
    for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code size_ec;
        const auto bytes = it->file_size(size_ec);
        if (size_ec) continue;  // a file RocksDB just renamed or removed
        ++size.files;
        size.bytes += bytes;
    }
    return size;
}

backup_manifest restore_backup(const std::string& source, const std::string& target,
                               const progress_fn& progress) {
    if (!empty_or_absent(target))
        throw storage_error(storage_errc::exists,
                            target + " is not empty; restore only into an empty or new directory");
    const backup_manifest manifest = read_backup_manifest(source);
    if (manifest.schema_version < 1 || manifest.schema_version > schema_version)
        throw storage_error(
            storage_errc::schema_mismatch,
            source + " has schema version " + std::to_string(manifest.schema_version) +
                ", this build reads up to version " + std::to_string(schema_version));

    std::vector<fs::path> files;
    copy_progress done;
    std::error_code ec;
    for (fs::directory_iterator it(source, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().filename() == backup_manifest_file || !it->is_regular_file()) continue;
        files.push_back(it->path());
        ++done.total_files;
        done.total_bytes += it->file_size();
    }
    if (ec) io_failure("cannot read " + source, ec);

    const bool created = !fs::exists(target);
    auto undo = [&] {
        std::error_code ignored;
        if (created) {
            fs::remove_all(target, ignored);
        } else {
            for (fs::directory_iterator it(target, ignored), end; !ignored && it != end;
                 it.increment(ignored))
                fs::remove_all(it->path(), ignored);
        }
    };
    try {
        fs::create_directories(target, ec);
        if (ec) io_failure("cannot create " + target, ec);
        for (const auto& file : files) {
            fs::copy_file(file, fs::path(target) / file.filename(), ec);
            if (ec) io_failure("cannot copy " + file.string(), ec);
            ++done.files;
            done.bytes += fs::file_size(file);
            if (progress) progress(done);
        }
        // The same open the server does: a schema this build cannot read is refused here, and
        // anything an open upgrades is upgraded now rather than at the first start.
        data_dir::open(target).reset();
    } catch (...) {
        undo();
        throw;
    }
    return manifest;
}

}  // namespace rl::storage
