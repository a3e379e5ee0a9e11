#pragma once
// Upgrades a data directory written by an older schema, in place, when it is opened. Private to
// storage/ (and its tests).

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <string>
#include <vector>

namespace rl::storage {

// Schema 1 -> 2 in one synced write: every user rewritten in format 2 (limit 0 -> plan
// "default", limit N -> limits "1s:N") and schema_version set to 2. The `plans` family already
// exists (open creates missing families). Usage is untouched. Throws storage_error.
void migrate_schema_1_to_2(rocksdb::DB& db,
                           const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                           const rocksdb::WriteOptions& synced);

}  // namespace rl::storage
