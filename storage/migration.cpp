#include "storage/migration.hpp"

#include <memory>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/schema.hpp"

namespace rl::storage {

void migrate_schema_1_to_2(rocksdb::DB& db,
                           const std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                           const rocksdb::WriteOptions& synced) {
    auto* users = handles[static_cast<std::size_t>(schema::family::users)];
    auto* meta = handles[static_cast<std::size_t>(schema::family::meta)];
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), users));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        // The decoder reads format 1 into the new fields; written back in format 2.
        const auto user = codec::decode_user(it->key().ToStringView(), it->value().ToStringView());
        if (!user) corrupt("user record (schema 1)");
        check(batch.Put(users, it->key(), codec::encode_user(*user)), "stage user");
    }
    check(it->status(), "read users to upgrade");
    check(batch.Put(meta, std::string(schema::meta_schema_version), std::to_string(2)),
          "stage schema version");
    check(db.Write(synced, &batch), "upgrade schema 1 to 2");
}

}  // namespace rl::storage
