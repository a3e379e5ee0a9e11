#pragma once
// RocksDB under a closed data directory, for storage's own tests only.

#include <rocksdb/db.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/schema.hpp"
#include "storage/usage_merge_operator.hpp"

namespace rl::testing {

// Opens the data directory behind storage's back, with all its column families, to plant what
// storage itself never writes or see what it hides. `use` gets the DB and a way to find a
// family's handle.
using family_of = std::function<rocksdb::ColumnFamilyHandle*(storage::schema::family)>;
inline void raw_access(const std::string& directory,
                       const std::function<void(rocksdb::DB&, const family_of&)>& use) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), directory, &names).ok());
    rocksdb::ColumnFamilyOptions options;
    options.merge_operator =
        std::make_shared<storage::usage_merge_operator>();  // harmless where unused
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& name : names) families.emplace_back(name, options);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), directory, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    use(*db, [&](storage::schema::family family) {
        const auto it = std::find(names.begin(), names.end(), storage::schema::name_of(family));
        REQUIRE(it != names.end());
        return handles[static_cast<std::size_t>(it - names.begin())];
    });
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    REQUIRE(db->Close().ok());
}

}  // namespace rl::testing
