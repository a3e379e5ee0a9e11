// Opening a schema-1 data directory upgrades it to schema 2 in place: every user, key and usage
// bucket is kept, each single limit becomes the plan "default" (limit 0) or own limits "1s:N".

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "storage/codec.hpp"
#include "storage/data_dir.hpp"
#include "tests/storage/data_dir_fixture.hpp"
#include "tests/storage/raw_access.hpp"

namespace {

using namespace rl::storage;
using namespace rl::testing;
using rl::common::sha256;

std::string stored_version(const std::string& directory) {
    std::string version;
    raw_access(directory, [&](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Get({}, family(schema::family::meta), std::string(schema::meta_schema_version),
                        &version)
                    .ok());
    });
    return version;
}

std::string raw_user(const std::string& directory, const std::string& name) {
    std::string bytes;
    raw_access(directory, [&](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Get({}, family(schema::family::users), name, &bytes).ok());
    });
    return bytes;
}

bool has_plans_family(const std::string& directory) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), directory, &names).ok());
    return std::find(names.begin(), names.end(), "plans") != names.end();
}

// Turns a fresh directory into what the schema-1 release wrote: no plans family, users in
// format 1, schema_version 1.
void make_schema_1(const std::string& directory) {
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        auto* users = family(schema::family::users);
        REQUIRE(raw.Put({}, users, "alice", codec::encode_user_format1(25, false, 100)).ok());
        REQUIRE(raw.Put({}, users, "bob", codec::encode_user_format1(0, true, 200)).ok());
        REQUIRE(
            raw.Put({}, family(schema::family::meta), std::string(schema::meta_schema_version), "1")
                .ok());
        REQUIRE(raw.DropColumnFamily(family(schema::family::plans)).ok());
    });
}

}  // namespace

TEST_CASE("a schema-1 directory is upgraded on open, and opening it again changes nothing",
          "[store][migration]") {
    temp_dir tmp;
    const std::string directory = tmp / "data";
    {
        auto db = data_dir::open(directory);
        db->catalog().put_key(key_of("alice", 7, "alice-key"));
        REQUIRE(db->usage().add({bucket(1795815000, 7, 3, 1)}));
    }
    make_schema_1(directory);
    REQUIRE(stored_version(directory) == "1");
    REQUIRE_FALSE(has_plans_family(directory));

    {
        auto db = data_dir::open(directory);
        const auto alice = db->catalog().find_user("alice");
        REQUIRE(alice.has_value());
        CHECK(alice->plan.empty());
        CHECK(alice->limits == "1s:25");
        CHECK_FALSE(alice->disabled);
        CHECK(alice->created_at == 100);
        const auto bob = db->catalog().find_user("bob");
        REQUIRE(bob.has_value());
        CHECK(bob->plan == "default");
        CHECK(bob->limits.empty());
        CHECK(bob->disabled);
        CHECK(bob->created_at == 200);
        CHECK(db->catalog().find_key(sha256("alice-key"))->user == "alice");
        CHECK(usage_between(*db, 0, 2000000000) == std::vector<bucket_row>{{1795815000, 7, 3, 1}});
        CHECK(db->catalog().list_plans("", 10).empty());
        db->catalog().put_plan({"free", "1s:5", false, 1, 1});  // the new family takes writes
    }
    CHECK(stored_version(directory) == "2");
    CHECK(has_plans_family(directory));
    CHECK(static_cast<std::uint8_t>(raw_user(directory, "alice")[0]) == 2);
    CHECK(static_cast<std::uint8_t>(raw_user(directory, "bob")[0]) == 2);

    // At version 2 nothing is rewritten: a format-1 value planted now stays as it is (and
    // still reads).
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Put({}, family(schema::family::users), "carol",
                        codec::encode_user_format1(9, false, 300))
                    .ok());
    });
    {
        auto db = data_dir::open(directory);
        CHECK(db->catalog().find_user("carol")->limits == "1s:9");
        CHECK(db->catalog().find_plan("free").has_value());
        CHECK(db->catalog().list_users().size() == 3);
    }
    CHECK(static_cast<std::uint8_t>(raw_user(directory, "carol")[0]) == 1);
    CHECK(stored_version(directory) == "2");
}

TEST_CASE("a schema-1 directory with a corrupt user is refused and left at schema 1",
          "[store][migration]") {
    temp_dir tmp;
    const std::string directory = tmp / "data";
    data_dir::open(directory).reset();
    make_schema_1(directory);
    raw_access(directory, [](rocksdb::DB& raw, const family_of& family) {
        REQUIRE(raw.Put({}, family(schema::family::users), "broken", "\x01garbage").ok());
    });
    try {
        data_dir::open(directory);
        FAIL("a corrupt user was upgraded");
    } catch (const storage_error& e) {
        CHECK(e.code() == storage_errc::corruption);
    }
    CHECK(stored_version(directory) == "1");
    CHECK(static_cast<std::uint8_t>(raw_user(directory, "alice")[0]) == 1);
}

// The data directory the schema-1 release wrote (tests/fixtures/schema-v1/README.md).
TEST_CASE("the schema-1 fixture opens at schema 2 with every user, key, limit and usage bucket",
          "[store][migration]") {
    const std::string fixture = std::string(RL_SOURCE_DIR) + "/tests/fixtures/schema-v1";
    temp_dir tmp;
    const std::string directory = tmp / "data";
    REQUIRE(std::system(("mkdir -p '" + directory + "' && tar -xzf '" + fixture +
                         "/schema-v1-data.tar.gz' -C '" + directory + "'")
                            .c_str()) == 0);
    std::ifstream in(fixture + "/expected.json");
    REQUIRE(in);
    const auto expected = nlohmann::json::parse(in);
    REQUIRE(stored_version(directory) == "1");

    for (int open = 1; open <= 2; ++open) {  // the second open finds nothing to upgrade
        CAPTURE(open);
        auto db = data_dir::open(directory);
        CHECK(db->catalog().list_users().size() == expected["users"].size());
        for (const auto& [name, want] : expected["users"].items()) {
            CAPTURE(name);
            const auto user = db->catalog().find_user(name);
            REQUIRE(user.has_value());
            if (want["limit"].is_null()) {
                CHECK(user->plan == "default");
                CHECK(user->limits.empty());
            } else {
                CHECK(user->plan.empty());
                CHECK(user->limits == "1s:" + std::to_string(want["limit"].get<int>()));
            }
            CHECK(user->disabled == want["disabled"].get<bool>());
            CHECK(user->created_at > 0);
        }
        std::size_t keys = 0;
        db->catalog().for_each_key([&](const key_record&) { ++keys; });
        CHECK(keys == expected["keys"].size());
        for (const auto& [id, want] : expected["keys"].items()) {
            CAPTURE(id);
            const auto key = db->catalog().find_key(sha256(want["key"].get<std::string>()));
            REQUIRE(key.has_value());
            CHECK(rl::common::format_key_id(key->key_id) == id);
            CHECK(key->user == want["user"].get<std::string>());
            CHECK(key->label == want["label"].get<std::string>());
        }
        // Every per-second bucket, summed by minute, as the schema-1 server reported them.
        std::map<unix_seconds, std::pair<std::uint64_t, std::uint64_t>> by_minute;
        std::uint64_t admitted = 0, limited = 0;
        db->usage().scan({usage_resolution::second, 0, 4000000000}, [&](const usage_bucket& b) {
            auto& m = by_minute[b.start - b.start % 60];
            m.first += b.count.admitted;
            m.second += b.count.limited;
            admitted += b.count.admitted;
            limited += b.count.limited;
        });
        CHECK(admitted == expected["usage_total"]["allowed"].get<std::uint64_t>());
        CHECK(limited == expected["usage_total"]["rejected"].get<std::uint64_t>());
        REQUIRE(by_minute.size() == expected["usage_by_minute"].size());
        auto it = by_minute.begin();
        for (const auto& minute : expected["usage_by_minute"]) {
            CHECK(rl::common::format_rfc3339(it->first) == minute["start"].get<std::string>());
            CHECK(it->second.first == minute["allowed"].get<std::uint64_t>());
            CHECK(it->second.second == minute["rejected"].get<std::uint64_t>());
            ++it;
        }
        db.reset();
        CHECK(stored_version(directory) == "2");
    }
}
