#include "storage/store.hpp"

#include <rocksdb/db.h>
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/usage_merge_operator.hpp"
#include "tests/storage/store_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using namespace rl::storage;
using rl::common::sha256;
using rl::testing::store_fixture;
using rl::testing::temp_dir;

key_record key_of(std::string user, std::uint64_t id, std::string_view plain) {
    return {id, sha256(plain), std::move(user), "label", 1795815000, 0, 0};
}

usage_bucket bucket(unix_seconds second, std::uint64_t key_id, std::uint64_t allowed,
                    std::uint64_t rejected = 0) {
    return {second, key_id, {allowed, rejected}};
}

// (second, key_id, allowed, rejected) of every bucket in [from, until), in visiting order.
using bucket_row = std::tuple<unix_seconds, std::uint64_t, std::uint64_t, std::uint64_t>;
std::vector<bucket_row> usage_between(const store& db, unix_seconds from, unix_seconds until) {
    std::vector<bucket_row> rows;
    db.for_each_usage(from, until, [&](const usage_bucket& b) {
        rows.emplace_back(b.second, b.key_id, b.count.allowed, b.count.rejected);
    });
    return rows;
}

std::vector<std::string> user_names(const store& db) {
    std::vector<std::string> names;
    for (const auto& user : db.list_users()) names.push_back(user.name);
    return names;
}

std::vector<std::uint64_t> key_ids(const store& db) {
    std::vector<std::uint64_t> ids;
    db.for_each_key([&](const key_record& key) { ids.push_back(key.key_id); });
    std::sort(ids.begin(), ids.end());
    return ids;
}

storage_errc open_error(const std::string& directory) {
    try {
        store::open(directory);
    } catch (const storage_error& e) {
        return e.code();
    }
    FAIL("store::open(" << directory << ") succeeded");
    return storage_errc::io_error;
}

// Opens the data directory behind the store's back, with all its column families, to plant
// what the store itself never writes or see what it hides. `use` gets the DB and a way to find
// a family's handle by name.
using family_of = std::function<rocksdb::ColumnFamilyHandle*(const std::string&)>;
void raw_access(const std::string& directory,
                const std::function<void(rocksdb::DB&, const family_of&)>& use) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), directory, &names).ok());
    rocksdb::ColumnFamilyOptions options;
    options.merge_operator = std::make_shared<usage_merge_operator>();  // harmless where unused
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& name : names) families.emplace_back(name, options);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), directory, families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    use(*db, [&](const std::string& name) {
        const auto it = std::find(names.begin(), names.end(), name);
        REQUIRE(it != names.end());
        return handles[static_cast<std::size_t>(it - names.begin())];
    });
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    REQUIRE(db->Close().ok());
}

}  // namespace

TEST_CASE("opening a missing directory creates it, private to its owner", "[store]") {
    temp_dir tmp;
    const std::string directory = tmp / "nested/data";
    const auto db = store::open(directory);
    CHECK(db->directory() == directory);

    struct stat info {};
    REQUIRE(::stat(directory.c_str(), &info) == 0);
    CHECK(S_ISDIR(info.st_mode));
    CHECK((info.st_mode & 0777) == 0700);
}

TEST_CASE("an existing directory with looser permissions is made private", "[store]") {
    temp_dir tmp;
    const std::string directory = tmp / "data";
    REQUIRE(::mkdir(directory.c_str(), 0755) == 0);
    const auto db = store::open(directory);
    struct stat info {};
    REQUIRE(::stat(directory.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0700);
}

TEST_CASE_METHOD(store_fixture, "a reopened store keeps users, keys and usage", "[store]") {
    db->put_user({"alice", 25, true, 1795815000});
    db->put_key(key_of("alice", 7, "alice-key"));
    REQUIRE(db->add_usage({bucket(1795815000, 7, 3, 1)}));
    reopen();
    REQUIRE(db->add_usage({bucket(1795815000, 7, 2, 2)}));
    reopen();

    const auto user = db->find_user("alice");
    REQUIRE(user.has_value());
    CHECK(user->limit == 25);
    CHECK(user->disabled);
    CHECK(user->created_at == 1795815000);

    const auto key = db->find_key(sha256("alice-key"));
    REQUIRE(key.has_value());
    CHECK(key->key_id == 7);
    CHECK(key->user == "alice");
    CHECK(db->find_key_by_id(7).has_value());

    CHECK(usage_between(*db, 0, 2000000000) == std::vector<bucket_row>{{1795815000, 7, 5, 3}});
}

TEST_CASE_METHOD(store_fixture, "a store written with another schema version is refused",
                 "[store]") {
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Put({}, family(rocksdb::kDefaultColumnFamilyName), "schema_version", "2").ok());
    });
    CHECK(open_error(directory) == storage_errc::schema_mismatch);
}

TEST_CASE_METHOD(store_fixture, "an existing store without a schema version is refused",
                 "[store]") {
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Delete({}, family(rocksdb::kDefaultColumnFamilyName), "schema_version").ok());
    });
    CHECK(open_error(directory) == storage_errc::schema_mismatch);

    SECTION("and the refused open lets go of the directory") {
        raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
            REQUIRE(raw.Put({}, family(rocksdb::kDefaultColumnFamilyName), "schema_version",
                            std::to_string(schema_version))
                        .ok());
        });
        CHECK_NOTHROW(reopen());
    }
}

TEST_CASE_METHOD(store_fixture, "a directory open in this process cannot be opened again",
                 "[store]") {
    CHECK(open_error(directory) == storage_errc::locked);
    db.reset();
    CHECK_NOTHROW(db = store::open(directory));
}

TEST_CASE_METHOD(store_fixture, "a value that does not decode is reported as corruption",
                 "[store]") {
    db->put_user({"alice", 0, false, 1});
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Put({}, family("users"), "mallory", "\x09garbage").ok());
    });
    reopen();
    CHECK(db->find_user("alice").has_value());
    try {
        db->find_user("mallory");
        FAIL("a corrupt user record was decoded");
    } catch (const storage_error& e) {
        CHECK(e.code() == storage_errc::corruption);
    }
    CHECK_THROWS_AS(db->list_users(), storage_error);
}

TEST_CASE_METHOD(store_fixture, "users are put, found, listed in name order and replaced",
                 "[store]") {
    CHECK_FALSE(db->find_user("alice").has_value());
    CHECK(db->list_users().empty());

    db->put_user({"carol", 3, false, 10});
    db->put_user({"alice", 1, false, 11});
    db->put_user({"bob", 2, true, 12});
    CHECK(user_names(*db) == std::vector<std::string>{"alice", "bob", "carol"});

    db->put_user({"alice", 99, true, 11});
    const auto alice = db->find_user("alice");
    REQUIRE(alice.has_value());
    CHECK(alice->limit == 99);
    CHECK(alice->disabled);
    CHECK(db->list_users().size() == 3);
}

TEST_CASE_METHOD(store_fixture, "deleting a user removes their keys and key ids only", "[store]") {
    db->put_user({"alice", 0, false, 1});
    db->put_user({"bob", 0, false, 1});
    db->put_key(key_of("alice", 1, "a1"));
    db->put_key(key_of("alice", 2, "a2"));
    db->put_key(key_of("bob", 3, "b1"));

    db->delete_user("alice");
    CHECK_FALSE(db->find_user("alice").has_value());
    CHECK_FALSE(db->find_key(sha256("a1")).has_value());
    CHECK_FALSE(db->find_key(sha256("a2")).has_value());
    CHECK_FALSE(db->find_key_by_id(1).has_value());
    CHECK_FALSE(db->find_key_by_id(2).has_value());

    CHECK(db->find_user("bob").has_value());
    CHECK(db->find_key_by_id(3).has_value());
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{3});

    reopen();
    CHECK(user_names(*db) == std::vector<std::string>{"bob"});
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{3});

    // The key id index is not visible through the store once the key is gone, so look inside.
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        std::unique_ptr<rocksdb::Iterator> it(raw.NewIterator({}, family("api_key_ids")));
        std::vector<std::string> ids;
        for (it->SeekToFirst(); it->Valid(); it->Next()) ids.push_back(it->key().ToString());
        CHECK(ids == std::vector<std::string>{std::string(7, '\0') + '\3'});
    });
}

TEST_CASE_METHOD(store_fixture, "keys are found by hash and by id", "[store]") {
    db->put_key(key_of("alice", 0xfeedULL, "alice-key"));
    db->put_key(key_of("bob", 0xbeefULL, "bob-key"));

    const auto by_hash = db->find_key(sha256("alice-key"));
    REQUIRE(by_hash.has_value());
    CHECK(by_hash->key_id == 0xfeedULL);
    CHECK(by_hash->hash == sha256("alice-key"));

    const auto by_id = db->find_key_by_id(0xbeefULL);
    REQUIRE(by_id.has_value());
    CHECK(by_id->user == "bob");
    CHECK(by_id->hash == sha256("bob-key"));

    CHECK_FALSE(db->find_key(sha256("nobody's key")).has_value());
    CHECK_FALSE(db->find_key_by_id(0x1234ULL).has_value());
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{0xbeefULL, 0xfeedULL});

    SECTION("putting a key again replaces its record") {
        key_record revoked = *by_hash;
        revoked.revoked_at = 1795816000;
        db->put_key(revoked);
        CHECK(db->find_key_by_id(0xfeedULL)->revoked_at == 1795816000);
        CHECK(key_ids(*db).size() == 2);
    }
}

TEST_CASE_METHOD(store_fixture, "a catalog batch writes its users and keys together", "[store]") {
    catalog_batch batch;
    batch.users = {{"alice", 5, false, 1}, {"bob", 0, false, 1}};
    batch.keys = {key_of("alice", 10, "k10"), key_of("bob", 11, "k11")};
    db->write(batch);
    reopen();

    CHECK(user_names(*db) == std::vector<std::string>{"alice", "bob"});
    CHECK(db->find_key(sha256("k10"))->user == "alice");
    CHECK(db->find_key_by_id(11)->user == "bob");
}

TEST_CASE_METHOD(store_fixture, "usage added in several writes is summed per bucket", "[store]") {
    REQUIRE(db->add_usage({bucket(100, 1, 1), bucket(100, 1, 1, 1), bucket(100, 2, 4)}));
    REQUIRE(db->add_usage({bucket(100, 1, 2, 5)}));
    REQUIRE(db->add_usage({}));
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 1, 4, 6}, {100, 2, 4, 0}});
}

TEST_CASE_METHOD(store_fixture, "usage added from many threads at once is all counted", "[store]") {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i)
                failures +=
                    !db->add_usage({bucket(100 + i % 3, static_cast<std::uint64_t>(t % 2), 1)});
        });
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);
    std::uint64_t allowed = 0;
    for (const auto& row : usage_between(*db, 0, 1000)) allowed += std::get<2>(row);
    CHECK(allowed == 4000);
    CHECK(usage_between(*db, 0, 1000).size() == 6);
}

TEST_CASE("two stores used from one thread keep their usage apart", "[store]") {
    temp_dir tmp;
    const auto first = store::open(tmp / "first");
    const auto second = store::open(tmp / "second");
    REQUIRE(first->add_usage({bucket(100, 1, 1), bucket(101, 1, 1)}));
    REQUIRE(second->add_usage({bucket(200, 2, 5)}));
    REQUIRE(first->add_usage({bucket(100, 1, 1)}));
    CHECK(usage_between(*first, 0, 1000) ==
          std::vector<bucket_row>{{100, 1, 2, 0}, {101, 1, 1, 0}});
    CHECK(usage_between(*second, 0, 1000) == std::vector<bucket_row>{{200, 2, 5, 0}});
}

TEST_CASE_METHOD(store_fixture, "usage is read over [from, until) in time then key order",
                 "[store]") {
    REQUIRE(db->add_usage({bucket(102, 1, 1), bucket(101, 9, 1), bucket(101, 2, 1),
                           bucket(100, 5, 1), bucket(300, 1, 1)}));

    CHECK(usage_between(*db, 101, 103) ==
          std::vector<bucket_row>{{101, 2, 1, 0}, {101, 9, 1, 0}, {102, 1, 1, 0}});
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 5, 1, 0}});
    CHECK(usage_between(*db, 0, 1000).size() == 5);
    CHECK(usage_between(*db, 103, 300).empty());
    CHECK(usage_between(*db, 101, 101).empty());
    CHECK(usage_between(*db, 300, 100).empty());
}

TEST_CASE_METHOD(store_fixture, "expiring usage drops only buckets before the cutoff", "[store]") {
    REQUIRE(db->add_usage({bucket(100, 1, 1), bucket(101, 1, 1), bucket(102, 1, 1),
                           bucket(102, 2, 1), bucket(103, 1, 1)}));
    db->expire_usage_before(102);
    CHECK(usage_between(*db, 0, 1000) ==
          std::vector<bucket_row>{{102, 1, 1, 0}, {102, 2, 1, 0}, {103, 1, 1, 0}});

    // New usage for an expired second counts from zero; survivors keep their counts.
    REQUIRE(db->add_usage({bucket(101, 1, 7), bucket(102, 1, 1)}));
    reopen();
    CHECK(usage_between(*db, 0, 1000) ==
          std::vector<bucket_row>{{101, 1, 7, 0}, {102, 1, 2, 0}, {102, 2, 1, 0}, {103, 1, 1, 0}});
}

TEST_CASE_METHOD(store_fixture, "flush makes the WAL durable without changing anything",
                 "[store]") {
    REQUIRE(db->add_usage({bucket(100, 1, 1)}));
    CHECK_NOTHROW(db->flush());
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 1, 1, 0}});
}
