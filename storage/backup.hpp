#pragma once
// Online backup and offline restore of a whole data directory. A backup is a RocksDB checkpoint
// (a directory RocksDB opens as it is) plus a manifest saying what wrote it, so a restore can
// refuse a copy this build cannot read before it copies anything.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "storage/records.hpp"

namespace rl::storage {

// The manifest's file name inside a backup directory; restore copies everything else.
inline constexpr std::string_view backup_manifest_file = "ratelimitd-backup";

struct backup_manifest {
    int schema_version = 0;
    unix_seconds taken_at = 0;
    std::string revision;        // the build that took it (git describe)
    std::uint64_t sequence = 0;  // the database's last sequence number in the copy
};

// How far a copy has come: files and bytes done, of the totals when known (0 otherwise).
struct copy_progress {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    std::uint64_t total_files = 0;
    std::uint64_t total_bytes = 0;
};
using progress_fn = std::function<void(const copy_progress&)>;

// Reads `directory`'s manifest. Throws storage_error (io_error when absent, corruption when
// it does not parse).
backup_manifest read_backup_manifest(const std::string& directory);

// Copies the backup at `source` into `target`, which must be absent or an empty directory, then
// opens the copy once as the server would (schema check, and whatever an open upgrades) and
// closes it. On any failure what was copied is removed again; `source` is only read. Throws
// storage_error (code exists when `target` is not empty).
backup_manifest restore_backup(const std::string& source, const std::string& target,
                               const progress_fn& progress = {});

// Files and bytes under `directory` (not recursive), or zeros when it is absent; what a
// caller polls to show a backup's progress.
copy_progress directory_size(const std::string& directory);

}  // namespace rl::storage
