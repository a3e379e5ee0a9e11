#include "storage/catalog_store.hpp"

#include <cstring>
#include <string>
#include <unordered_set>

#include <rocksdb/snapshot.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"

namespace rl::storage {

namespace {

using schema::family;

std::string_view view(const key_hash& hash) {
    return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

void stage_user(const database::session& s, rocksdb::WriteBatch& batch, const user_record& user) {
    batch.Put(s.family(family::users), user.name, codec::encode_user(user));
}

// A key and its id index, always together.
void stage_key(const database::session& s, rocksdb::WriteBatch& batch, const key_record& key) {
    batch.Put(s.family(family::api_keys), view(key.hash), codec::encode_key(key));
    batch.Put(s.family(family::api_key_ids), codec::encode_key_id(key.key_id), view(key.hash));
}

// The plans, users and keys of a catalog_batch or catalog_changes.
template <typename Records>
void stage_records(const database::session& s, rocksdb::WriteBatch& batch, const Records& records) {
    for (const auto& plan : records.plans)
        batch.Put(s.family(family::plans), plan.name, codec::encode_plan(plan));
    for (const auto& user : records.users) stage_user(s, batch, user);
    for (const auto& key : records.keys) stage_key(s, batch, key);
}

}  // namespace

std::optional<user_record> catalog_store::find_user(std::string_view name) const {
    const auto s = db_.use();
    std::string bytes;
    const auto status = s.db().Get(rocksdb::ReadOptions(), s.family(family::users), name, &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read user");
    auto user = codec::decode_user(name, bytes);
    if (!user) corrupt("user record");
    return user;
}

std::vector<user_record> catalog_store::list_users() const {
    const auto s = db_.use();
    std::vector<user_record> users;
    std::unique_ptr<rocksdb::Iterator> it(
        s.db().NewIterator(rocksdb::ReadOptions(), s.family(family::users)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto user = codec::decode_user(it->key().ToStringView(), it->value().ToStringView());
        if (!user) corrupt("user record");
        users.push_back(std::move(*user));
    }
    check(it->status(), "list users");
    return users;
}

void catalog_store::put_user(const user_record& user) {
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    stage_user(s, batch, user);
    s.write_synced(batch, "write user");
}

void catalog_store::delete_user(std::string_view name) {
    std::vector<key_record> keys;  // collected first: the scan and the write each lock once
    for_each_key([&](const key_record& key) {
        if (key.user == name) keys.push_back(key);
    });
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    batch.Delete(s.family(family::users), name);
    for (const auto& key : keys) {
        batch.Delete(s.family(family::api_keys), view(key.hash));
        batch.Delete(s.family(family::api_key_ids), codec::encode_key_id(key.key_id));
    }
    s.write_synced(batch, "delete user");
}

std::optional<plan_record> catalog_store::find_plan(std::string_view name) const {
    const auto s = db_.use();
    std::string bytes;
    const auto status = s.db().Get(rocksdb::ReadOptions(), s.family(family::plans), name, &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read plan");
    auto plan = codec::decode_plan(name, bytes);
    if (!plan) corrupt("plan record");
    return plan;
}

void catalog_store::put_plan(const plan_record& plan) {
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    batch.Put(s.family(family::plans), plan.name, codec::encode_plan(plan));
    s.write_synced(batch, "write plan");
}

void catalog_store::delete_plan(std::string_view name) {
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    batch.Delete(s.family(family::plans), name);
    s.write_synced(batch, "delete plan");
}

std::size_t catalog_store::count_followers(std::string_view plan) const {
    const auto s = db_.use();
    std::size_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(
        s.db().NewIterator(rocksdb::ReadOptions(), s.family(family::users)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto user = codec::decode_user(it->key().ToStringView(), it->value().ToStringView());
        if (!user) corrupt("user record");
        if (user->plan == plan) ++n;
    }
    check(it->status(), "count plan followers");
    return n;
}

std::optional<key_record> catalog_store::find_key(const key_hash& hash) const {
    const auto s = db_.use();
    std::string bytes;
    const auto status =
        s.db().Get(rocksdb::ReadOptions(), s.family(family::api_keys), view(hash), &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read key");
    auto key = codec::decode_key(view(hash), bytes);
    if (!key) corrupt("key record");
    return key;
}

std::optional<key_record> catalog_store::find_key_by_id(std::uint64_t key_id) const {
    key_hash h;
    {
        const auto s = db_.use();
        std::string hash;
        const auto status = s.db().Get(rocksdb::ReadOptions(), s.family(family::api_key_ids),
                                       codec::encode_key_id(key_id), &hash);
        if (status.IsNotFound()) return std::nullopt;
        check(status, "read key id");
        if (hash.size() != sizeof(key_hash)) corrupt("key id index");
        std::memcpy(h.data(), hash.data(), h.size());
    }
    return find_key(h);
}

void catalog_store::for_each_key(const std::function<void(const key_record&)>& visit) const {
    const auto s = db_.use();
    rocksdb::ReadOptions options;
    options.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(s.db().NewIterator(options, s.family(family::api_keys)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto key = codec::decode_key(it->key().ToStringView(), it->value().ToStringView());
        if (!key) corrupt("key record");
        visit(*key);
    }
    check(it->status(), "scan keys");
}

std::vector<key_record> catalog_store::list_keys(std::uint64_t after, std::size_t limit,
                                                 std::optional<std::string_view> user) const {
    const auto s = db_.use();
    // One snapshot for the id index and the records it points to: a key deleted between the
    // two reads cannot leave a dangling id.
    rocksdb::ManagedSnapshot snapshot(&s.db());
    rocksdb::ReadOptions options;
    options.snapshot = snapshot.snapshot();
    std::vector<key_record> keys;
    std::unique_ptr<rocksdb::Iterator> it(
        s.db().NewIterator(options, s.family(family::api_key_ids)));
    const std::string start = codec::encode_key_id(after);
    it->Seek(start);
    if (it->Valid() && it->key().ToStringView() == start) it->Next();
    std::string bytes;
    for (; it->Valid() && keys.size() < limit; it->Next()) {
        const auto hash = it->value();
        const auto status = s.db().Get(options, s.family(family::api_keys), hash, &bytes);
        if (status.IsNotFound()) corrupt("key id index");
        check(status, "read key");
        auto key = codec::decode_key(hash.ToStringView(), bytes);
        if (!key) corrupt("key record");
        if (!user || key->user == *user) keys.push_back(std::move(*key));
    }
    check(it->status(), "list keys");
    return keys;
}

void catalog_store::put_key(const key_record& key) {
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    stage_key(s, batch, key);
    s.write_synced(batch, "write key");
}

namespace {

// Up to `limit` decoded records of `f` strictly after `after` (from the first when empty).
template <typename Record, typename Decode>
std::vector<Record> page_of(const database::session& s, family f, std::string_view after,
                            std::size_t limit, Decode decode, const char* what) {
    std::vector<Record> page;
    std::unique_ptr<rocksdb::Iterator> it(s.db().NewIterator(rocksdb::ReadOptions(), s.family(f)));
    if (after.empty()) {
        it->SeekToFirst();
    } else {
        it->Seek(rocksdb::Slice(after.data(), after.size()));
        if (it->Valid() && it->key().ToStringView() == after) it->Next();
    }
    for (; it->Valid() && page.size() < limit; it->Next()) {
        auto record = decode(it->key().ToStringView(), it->value().ToStringView());
        if (!record) corrupt(what);
        page.push_back(std::move(*record));
    }
    check(it->status(), std::string("page ") + what + "s");
    return page;
}

}  // namespace

std::vector<user_record> catalog_store::list_users(std::string_view after,
                                                   std::size_t limit) const {
    const auto s = db_.use();
    return page_of<user_record>(s, family::users, after, limit, codec::decode_user, "user record");
}

std::vector<plan_record> catalog_store::list_plans(std::string_view after,
                                                   std::size_t limit) const {
    const auto s = db_.use();
    return page_of<plan_record>(s, family::plans, after, limit, codec::decode_plan, "plan record");
}

std::vector<key_record> catalog_store::keys_after(const key_hash* after, std::size_t limit) const {
    const auto s = db_.use();
    return page_of<key_record>(s, family::api_keys, after ? view(*after) : std::string_view{},
                               limit, codec::decode_key, "key record");
}

void catalog_store::write(const catalog_batch& changes) {
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    stage_records(s, batch, changes);
    s.write_synced(batch, "write batch");
}

std::int64_t catalog_store::revision() const {
    const auto s = db_.use();
    return s.meta_number(std::string(schema::meta_catalog_revision)).value_or(0);
}

namespace {

void stage_revision(const database::session& s, rocksdb::WriteBatch& batch, std::int64_t revision) {
    batch.Put(s.family(family::meta), schema::meta_catalog_revision, std::to_string(revision));
}

void stage_key_deletion(const database::session& s, rocksdb::WriteBatch& batch,
                        const key_record& key) {
    batch.Delete(s.family(family::api_keys), view(key.hash));
    batch.Delete(s.family(family::api_key_ids), codec::encode_key_id(key.key_id));
}

// Every key of a family, deleted in `batch`.
void stage_clear(const database::session& s, rocksdb::WriteBatch& batch, family f) {
    std::unique_ptr<rocksdb::Iterator> it(s.db().NewIterator(rocksdb::ReadOptions(), s.family(f)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(s.family(f), it->key());
    check(it->status(), "clear catalog");
}

}  // namespace

void catalog_store::apply(const catalog_changes& changes, std::int64_t revision) {
    // Read before the session below: the reads take their own.
    std::vector<key_record> doomed;
    for (const auto& hash : changes.deleted_keys)
        if (auto key = find_key(hash)) doomed.push_back(std::move(*key));
    if (!changes.deleted_users.empty()) {
        const std::unordered_set<std::string_view> users(changes.deleted_users.begin(),
                                                         changes.deleted_users.end());
        for_each_key([&](const key_record& key) {
            if (users.count(key.user)) doomed.push_back(key);
        });
        for (const auto& key : changes.keys)
            if (users.count(key.user)) doomed.push_back(key);
    }
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    stage_records(s, batch, changes);
    for (const auto& key : doomed) stage_key_deletion(s, batch, key);
    for (const auto& name : changes.deleted_users) batch.Delete(s.family(family::users), name);
    for (const auto& name : changes.deleted_plans) batch.Delete(s.family(family::plans), name);
    stage_revision(s, batch, revision);
    s.write_synced(batch, "apply catalog changes");
}

void catalog_store::replace_all(const catalog_batch& replacement, std::int64_t revision) {
    const auto s = db_.use();
    rocksdb::WriteBatch batch;
    for (const family f : {family::plans, family::users, family::api_keys, family::api_key_ids})
        stage_clear(s, batch, f);
    stage_records(s, batch, replacement);
    stage_revision(s, batch, revision);
    s.write_synced(batch, "replace catalog");
}

}  // namespace rl::storage
