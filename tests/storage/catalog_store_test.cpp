// Users and keys: put, found, listed, deleted together, written in one batch.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>
#include "tests/storage/data_dir_fixture.hpp"
#include "tests/storage/raw_access.hpp"

namespace {

using namespace rl::storage;
using namespace rl::testing;
using rl::common::sha256;

std::vector<std::string> user_names(const data_dir& db) {
    std::vector<std::string> names;
    for (const auto& user : db.catalog().list_users()) names.push_back(user.name);
    return names;
}

std::vector<std::uint64_t> key_ids(const data_dir& db) {
    std::vector<std::uint64_t> ids;
    db.catalog().for_each_key([&](const key_record& key) { ids.push_back(key.key_id); });
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

TEST_CASE_METHOD(data_dir_fixture, "a value that does not decode is reported as corruption",
                 "[store]") {
    db->catalog().put_user({"alice", "default", "", false, 1});
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Put({}, family(schema::family::users), "mallory", "\x09garbage").ok());
    });
    reopen();
    CHECK(db->catalog().find_user("alice").has_value());
    try {
        db->catalog().find_user("mallory");
        FAIL("a corrupt user record was decoded");
    } catch (const storage_error& e) {
        CHECK(e.code() == storage_errc::corruption);
    }
    CHECK_THROWS_AS(db->catalog().list_users(), storage_error);
}

TEST_CASE_METHOD(data_dir_fixture, "users are put, found, listed in name order and replaced",
                 "[store]") {
    CHECK_FALSE(db->catalog().find_user("alice").has_value());
    CHECK(db->catalog().list_users().empty());

    db->catalog().put_user({"carol", "", "1s:3", false, 10});
    db->catalog().put_user({"alice", "", "1s:1", false, 11});
    db->catalog().put_user({"bob", "", "1s:2", true, 12});
    CHECK(user_names(*db) == std::vector<std::string>{"alice", "bob", "carol"});

    db->catalog().put_user({"alice", "", "1s:99", true, 11});
    const auto alice = db->catalog().find_user("alice");
    REQUIRE(alice.has_value());
    CHECK(alice->limits == "1s:99");
    CHECK(alice->plan.empty());
    CHECK(alice->disabled);
    CHECK(db->catalog().list_users().size() == 3);
}

TEST_CASE_METHOD(data_dir_fixture, "deleting a user removes their keys and key ids only",
                 "[store]") {
    db->catalog().put_user({"alice", "default", "", false, 1});
    db->catalog().put_user({"bob", "default", "", false, 1});
    db->catalog().put_key(key_of("alice", 1, "a1"));
    db->catalog().put_key(key_of("alice", 2, "a2"));
    db->catalog().put_key(key_of("bob", 3, "b1"));

    db->catalog().delete_user("alice");
    CHECK_FALSE(db->catalog().find_user("alice").has_value());
    CHECK_FALSE(db->catalog().find_key(sha256("a1")).has_value());
    CHECK_FALSE(db->catalog().find_key(sha256("a2")).has_value());
    CHECK_FALSE(db->catalog().find_key_by_id(1).has_value());
    CHECK_FALSE(db->catalog().find_key_by_id(2).has_value());

    CHECK(db->catalog().find_user("bob").has_value());
    CHECK(db->catalog().find_key_by_id(3).has_value());
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{3});

    reopen();
    CHECK(user_names(*db) == std::vector<std::string>{"bob"});
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{3});

    // The key id index is not visible through the store once the key is gone, so look inside.
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        std::unique_ptr<rocksdb::Iterator> it(
            raw.NewIterator({}, family(schema::family::api_key_ids)));
        std::vector<std::string> ids;
        for (it->SeekToFirst(); it->Valid(); it->Next()) ids.push_back(it->key().ToString());
        CHECK(ids == std::vector<std::string>{std::string(7, '\0') + '\3'});
    });
}

TEST_CASE_METHOD(data_dir_fixture, "keys are found by hash and by id", "[store]") {
    db->catalog().put_key(key_of("alice", 0xfeedULL, "alice-key"));
    db->catalog().put_key(key_of("bob", 0xbeefULL, "bob-key"));

    const auto by_hash = db->catalog().find_key(sha256("alice-key"));
    REQUIRE(by_hash.has_value());
    CHECK(by_hash->key_id == 0xfeedULL);
    CHECK(by_hash->hash == sha256("alice-key"));

    const auto by_id = db->catalog().find_key_by_id(0xbeefULL);
    REQUIRE(by_id.has_value());
    CHECK(by_id->user == "bob");
    CHECK(by_id->hash == sha256("bob-key"));

    CHECK_FALSE(db->catalog().find_key(sha256("nobody's key")).has_value());
    CHECK_FALSE(db->catalog().find_key_by_id(0x1234ULL).has_value());
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{0xbeefULL, 0xfeedULL});

    SECTION("putting a key again replaces its record") {
        key_record revoked = *by_hash;
        revoked.revoked_at = 1795816000;
        db->catalog().put_key(revoked);
        CHECK(db->catalog().find_key_by_id(0xfeedULL)->revoked_at == 1795816000);
        CHECK(key_ids(*db).size() == 2);
    }
}

TEST_CASE_METHOD(data_dir_fixture, "a catalog batch writes its users and keys together",
                 "[store]") {
    catalog_batch batch;
    batch.users = {{"alice", "", "1s:5", false, 1}, {"bob", "default", "", false, 1}};
    batch.keys = {key_of("alice", 10, "k10"), key_of("bob", 11, "k11")};
    db->catalog().write(batch);
    reopen();

    CHECK(user_names(*db) == std::vector<std::string>{"alice", "bob"});
    CHECK(db->catalog().find_key(sha256("k10"))->user == "alice");
    CHECK(db->catalog().find_key_by_id(11)->user == "bob");
}

TEST_CASE_METHOD(data_dir_fixture, "users are read a page at a time after a name", "[store]") {
    for (const char* name : {"dave", "alice", "carol", "bob", "erin"})
        db->catalog().put_user({name, "default", "", false, 1});
    const auto names = [&](std::string_view after, std::size_t limit) {
        std::vector<std::string> out;
        for (const auto& user : db->catalog().list_users(after, limit)) out.push_back(user.name);
        return out;
    };
    CHECK(names("", 2) == std::vector<std::string>{"alice", "bob"});
    CHECK(names("bob", 2) == std::vector<std::string>{"carol", "dave"});
    CHECK(names("bobby", 10) == std::vector<std::string>{"carol", "dave", "erin"});  // gone
    CHECK(names("erin", 10).empty());
    CHECK(names("", 100).size() == 5);
}

TEST_CASE_METHOD(data_dir_fixture, "keys are read a page at a time in key_id order", "[store]") {
    db->catalog().put_user({"alice", "default", "", false, 1});
    db->catalog().put_user({"bob", "default", "", false, 1});
    for (std::uint64_t id = 1; id <= 9; ++id)
        db->catalog().put_key({id * 0x1000, sha256("key-" + std::to_string(id)),
                               id % 3 == 0 ? "bob" : "alice", "", 1, 0, 0});
    const auto ids = [&](std::uint64_t after, std::size_t limit,
                         std::optional<std::string_view> user) {
        std::vector<std::uint64_t> out;
        for (const auto& key : db->catalog().list_keys(after, limit, user))
            out.push_back(key.key_id / 0x1000);
        return out;
    };
    CHECK(ids(0, 4, std::nullopt) == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(ids(4 * 0x1000, 4, std::nullopt) == std::vector<std::uint64_t>{5, 6, 7, 8});
    CHECK(ids(4 * 0x1000 + 1, 100, std::nullopt) == std::vector<std::uint64_t>{5, 6, 7, 8, 9});
    CHECK(ids(0, 2, std::string_view("bob")) == std::vector<std::uint64_t>{3, 6});
    CHECK(ids(6 * 0x1000, 2, std::string_view("bob")) == std::vector<std::uint64_t>{9});
    CHECK(ids(9 * 0x1000, 2, std::nullopt).empty());
}

TEST_CASE_METHOD(data_dir_fixture, "plans are put, found, paged, counted and deleted", "[store]") {
    CHECK_FALSE(db->catalog().find_plan("free").has_value());
    db->catalog().put_plan({"pro", "1s:50,day:100000", false, 1, 2});
    db->catalog().put_plan({"free", "1s:5", true, 3, 4});
    db->catalog().put_plan({"team", "1m:600", false, 5, 6});
    const auto plan_names = [&](std::string_view after, std::size_t limit) {
        std::vector<std::string> out;
        for (const auto& plan : db->catalog().list_plans(after, limit)) out.push_back(plan.name);
        return out;
    };
    CHECK(plan_names("", 2) == std::vector<std::string>{"free", "pro"});
    CHECK(plan_names("pro", 2) == std::vector<std::string>{"team"});
    CHECK(plan_names("team", 2).empty());

    db->catalog().put_user({"alice", "free", "", false, 1});
    db->catalog().put_user({"bob", "free", "", false, 1});
    db->catalog().put_user({"carol", "", "1s:5", false, 1});
    db->catalog().put_user({"dave", "pro", "", false, 1});
    CHECK(db->catalog().count_followers("free") == 2);
    CHECK(db->catalog().count_followers("pro") == 1);
    CHECK(db->catalog().count_followers("team") == 0);

    reopen();
    const auto free = db->catalog().find_plan("free");
    REQUIRE(free.has_value());
    CHECK(free->limits == "1s:5");
    CHECK(free->shadow);
    CHECK(free->created_at == 3);
    CHECK(free->updated_at == 4);
    db->catalog().delete_plan("team");
    CHECK_FALSE(db->catalog().find_plan("team").has_value());
    CHECK(plan_names("", 10) == std::vector<std::string>{"free", "pro"});
}

TEST_CASE_METHOD(data_dir_fixture, "a catalog batch writes plans with its users", "[store]") {
    catalog_batch batch;
    batch.plans = {{"free", "1s:5", false, 1, 1}};
    batch.users = {{"alice", "free", "", false, 1}};
    db->catalog().write(batch);
    reopen();
    CHECK(db->catalog().find_plan("free").has_value());
    CHECK(db->catalog().find_user("alice")->plan == "free");
}

TEST_CASE_METHOD(data_dir_fixture, "the cache revision starts at 0 and survives a reopen",
                 "[store][cache]") {
    CHECK(db->catalog().revision() == 0);
    catalog_changes changes;
    changes.users.push_back({"alice", "default", "", false, 1});
    db->catalog().apply(changes, 42);
    CHECK(db->catalog().revision() == 42);
    reopen();
    CHECK(db->catalog().revision() == 42);
    CHECK(db->catalog().find_user("alice").has_value());
    db->catalog().apply({}, 43);  // a progress notice moves the revision alone
    CHECK(db->catalog().revision() == 43);
}

TEST_CASE_METHOD(data_dir_fixture,
                 "applied changes put first, then delete; a deleted user's keys go",
                 "[store][cache]") {
    db->catalog().put_plan({"gold", "1s:100", false, 1, 1});
    db->catalog().put_plan({"tin", "1s:1", false, 1, 1});
    db->catalog().put_user({"alice", "gold", "", false, 1});
    db->catalog().put_user({"bob", "default", "", false, 1});
    const key_record a1{1, sha256("a1"), "alice", "", 1, 0, 0};
    const key_record a2{2, sha256("a2"), "alice", "", 1, 0, 0};
    const key_record b1{3, sha256("b1"), "bob", "", 1, 0, 0};
    for (const auto& key : {a1, a2, b1}) db->catalog().put_key(key);

    catalog_changes changes;
    changes.users.push_back({"carol", "", "1s:5", false, 2});
    changes.keys.push_back({4, sha256("c1"), "carol", "", 2, 0, 0});
    changes.keys.push_back({5, sha256("a3"), "alice", "", 2, 0, 0});  // alice goes: so does this
    changes.deleted_users.push_back("alice");
    changes.deleted_keys.push_back(sha256("b1"));
    changes.deleted_keys.push_back(sha256("never-stored"));
    changes.deleted_plans.push_back("tin");
    db->catalog().apply(changes, 7);

    CHECK(user_names(*db) == std::vector<std::string>{"bob", "carol"});
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{4});
    CHECK_FALSE(db->catalog().find_key_by_id(1).has_value());
    CHECK_FALSE(db->catalog().find_key_by_id(3).has_value());
    CHECK_FALSE(db->catalog().find_key_by_id(5).has_value());
    CHECK(db->catalog().find_key_by_id(4).has_value());
    CHECK(db->catalog().find_plan("gold").has_value());
    CHECK_FALSE(db->catalog().find_plan("tin").has_value());
    CHECK(db->catalog().revision() == 7);
}

TEST_CASE_METHOD(data_dir_fixture, "replace_all leaves exactly the new catalog", "[store][cache]") {
    db->catalog().put_plan({"tin", "1s:1", false, 1, 1});
    db->catalog().put_user({"alice", "tin", "", false, 1});
    db->catalog().put_key({1, sha256("a1"), "alice", "", 1, 0, 0});

    catalog_batch batch;
    batch.plans.push_back({"gold", "1s:100", false, 2, 2});
    batch.users.push_back({"bob", "gold", "", false, 2});
    batch.keys.push_back({2, sha256("b1"), "bob", "", 2, 0, 0});
    db->catalog().replace_all(batch, 99);

    CHECK(user_names(*db) == std::vector<std::string>{"bob"});
    CHECK(key_ids(*db) == std::vector<std::uint64_t>{2});
    CHECK_FALSE(db->catalog().find_key_by_id(1).has_value());
    CHECK_FALSE(db->catalog().find_plan("tin").has_value());
    CHECK(db->catalog().find_plan("gold").has_value());
    CHECK(db->catalog().revision() == 99);

    db->catalog().replace_all({}, 100);
    CHECK(db->catalog().list_users().empty());
    CHECK(key_ids(*db).empty());
    CHECK(db->catalog().revision() == 100);
}
