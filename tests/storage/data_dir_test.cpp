// Opening, reopening and locking a data directory, and its schema check.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <string>
#include "tests/storage/data_dir_fixture.hpp"
#include "tests/storage/raw_access.hpp"

namespace {

using namespace rl::storage;
using namespace rl::testing;
using rl::common::sha256;

storage_errc open_error(const std::string& directory) {
    try {
        data_dir::open(directory);
    } catch (const storage_error& e) {
        return e.code();
    }
    FAIL("data_dir::open(" << directory << ") succeeded");
    return storage_errc::io_error;
}

}  // namespace

TEST_CASE("opening a missing directory creates it, private to its owner", "[store]") {
    temp_dir tmp;
    const std::string directory = tmp / "nested/data";
    const auto db = data_dir::open(directory);
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
    const auto db = data_dir::open(directory);
    struct stat info {};
    REQUIRE(::stat(directory.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0700);
}

TEST_CASE_METHOD(data_dir_fixture, "a reopened store keeps users, keys and usage", "[store]") {
    db->catalog().put_user({"alice", "", "1s:25", true, 1795815000});
    db->catalog().put_plan({"free", "1s:5,day:1000", true, 1795815000, 1795815001});
    db->catalog().put_key(key_of("alice", 7, "alice-key"));
    REQUIRE(db->usage().add({bucket(1795815000, 7, 3, 1)}));
    reopen();
    REQUIRE(db->usage().add({bucket(1795815000, 7, 2, 2)}));
    reopen();

    const auto user = db->catalog().find_user("alice");
    REQUIRE(user.has_value());
    CHECK(user->plan.empty());
    CHECK(user->limits == "1s:25");
    CHECK(user->disabled);
    const auto plan = db->catalog().find_plan("free");
    REQUIRE(plan.has_value());
    CHECK(plan->limits == "1s:5,day:1000");
    CHECK(plan->shadow);
    CHECK(plan->updated_at == 1795815001);
    CHECK(user->created_at == 1795815000);

    const auto key = db->catalog().find_key(sha256("alice-key"));
    REQUIRE(key.has_value());
    CHECK(key->key_id == 7);
    CHECK(key->user == "alice");
    CHECK(db->catalog().find_key_by_id(7).has_value());

    CHECK(usage_between(*db, 0, 2000000000) == std::vector<bucket_row>{{1795815000, 7, 5, 3}});
}

TEST_CASE_METHOD(data_dir_fixture, "a store written with another schema version is refused",
                 "[store]") {
    const std::string version = GENERATE("3", "0", "x");
    db.reset();
    raw_access(directory, [&](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Put({}, family(schema::family::meta), std::string(schema::meta_schema_version),
                        version)
                    .ok());
    });
    CHECK(open_error(directory) == storage_errc::schema_mismatch);
}

TEST_CASE_METHOD(data_dir_fixture, "an existing store without a schema version is refused",
                 "[store]") {
    db.reset();
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(
            raw.Delete({}, family(schema::family::meta), std::string(schema::meta_schema_version))
                .ok());
    });
    CHECK(open_error(directory) == storage_errc::schema_mismatch);

    SECTION("and the refused open lets go of the directory") {
        raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
            REQUIRE(raw.Put({}, family(schema::family::meta),
                            std::string(schema::meta_schema_version),
                            std::to_string(schema_version))
                        .ok());
        });
        CHECK_NOTHROW(reopen());
    }
}

TEST_CASE_METHOD(data_dir_fixture, "a directory open in this process cannot be opened again",
                 "[store]") {
    CHECK(open_error(directory) == storage_errc::locked);
    db.reset();
    CHECK_NOTHROW(db = data_dir::open(directory));
}
