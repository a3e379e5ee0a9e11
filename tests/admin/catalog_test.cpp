#include "admin/catalog.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/admin/admin_fixture.hpp"

namespace {

using namespace rl::admin;
using rl::common::sha256;
using rl::testing::admin_fixture;

std::vector<std::string> names_of(const std::vector<user_record>& users) {
    std::vector<std::string> names;
    for (const auto& user : users) names.push_back(user.name);
    return names;
}

std::vector<std::uint64_t> ids_of(const std::vector<key_record>& keys) {
    std::vector<std::uint64_t> ids;
    for (const auto& key : keys) ids.push_back(key.key_id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

// users_created, users_updated, keys_imported, keys_unchanged
using import_counts = std::array<std::size_t, 4>;
import_counts counts_of(const import_summary& s) {
    return {s.users_created, s.users_updated, s.keys_imported, s.keys_unchanged};
}

std::vector<std::size_t> error_rows(const import_summary& summary) {
    std::vector<std::size_t> rows;
    for (const auto& [row, reason] : summary.errors) {
        CHECK_FALSE(reason.empty());
        rows.push_back(row);
    }
    return rows;
}

// Everything the data directory holds on disk, every file concatenated.
std::string directory_bytes(const std::string& directory) {
    std::string all;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(directory)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
}

template <typename T>
void check_refused(const result<T>& r, outcome expected) {
    CHECK(r.status == expected);
    CHECK_FALSE(r.succeeded());
    CHECK_FALSE(r.value.has_value());
    CHECK_FALSE(r.message.empty());
}

}  // namespace

TEST_CASE_METHOD(admin_fixture, "a new user without a limit follows the built-in plan \"default\"",
                 "[catalog]") {
    const auto before = rl::common::wall_now();
    const auto r = catalog.create_user("alice", std::nullopt);
    REQUIRE(r.status == outcome::created);
    CHECK(r.succeeded());
    CHECK(r.value->name == "alice");
    CHECK(r.value->plan == "default");
    CHECK_FALSE(r.value->disabled);
    CHECK(r.value->created_at >= before);
    CHECK(r.value->created_at <= rl::common::wall_now());

    const auto stored = catalog.find_user("alice");
    REQUIRE(stored.has_value());
    CHECK(stored->plan == "default");
    CHECK(catalog.default_limit() == 10);
    CHECK(per_second_quota(catalog.effective_policy(*stored)) == 10);
}

TEST_CASE_METHOD(admin_fixture, "a new user with a limit keeps their own", "[catalog]") {
    CHECK(per_second_quota(catalog.effective_policy(make_user("alice", 25))) == 25);
    CHECK(per_second_quota(catalog.effective_policy(make_user("bob", 1))) == 1);
    CHECK(per_second_quota(catalog.effective_policy(make_user("carol", max_limit))) == max_limit);
    CHECK(names_of(catalog.list_users()) == std::vector<std::string>{"alice", "bob", "carol"});
}

TEST_CASE_METHOD(admin_fixture, "bad user names and limits are refused and nothing is written",
                 "[catalog]") {
    for (const std::string& name : {std::string(), std::string("two words"), std::string(65, 'u'),
                                    std::string("j\xc3\xbcrgen"), std::string("a/b")}) {
        CAPTURE(name);
        check_refused(catalog.create_user(name, std::nullopt), outcome::invalid);
    }
    for (const std::uint32_t limit : {0u, max_limit + 1}) {
        CAPTURE(limit);
        check_refused(catalog.create_user("alice", limit), outcome::invalid);
    }
    CHECK(catalog.list_users().empty());
    CHECK(observer.events.empty());
}

TEST_CASE_METHOD(admin_fixture, "creating a user twice leaves the first one as it was",
                 "[catalog]") {
    make_user("alice", 5);
    check_refused(catalog.create_user("alice", 50), outcome::already_exists);
    CHECK(catalog.find_user("alice")->limits == "1s:5");
    CHECK(observer.events == std::vector<std::string>{"user alice"});
}

TEST_CASE_METHOD(admin_fixture, "updating a user changes only what is given", "[catalog]") {
    make_user("alice", 5);

    auto r = catalog.update_user("alice", 7, std::nullopt);
    REQUIRE(r.status == outcome::ok);
    CHECK(r.value->limits == "1s:7");
    CHECK_FALSE(r.value->disabled);

    r = catalog.update_user("alice", std::nullopt, true);
    REQUIRE(r.status == outcome::ok);
    CHECK(r.value->limits == "1s:7");
    CHECK(r.value->disabled);
    CHECK(catalog.find_user("alice")->disabled);

    r = catalog.update_user("alice", std::nullopt, false);
    CHECK_FALSE(catalog.find_user("alice")->disabled);

    check_refused(catalog.update_user("alice", 0u, true), outcome::invalid);
    check_refused(catalog.update_user("alice", max_limit + 1, std::nullopt), outcome::invalid);
    const auto stored = catalog.find_user("alice");
    CHECK(stored->limits == "1s:7");
    CHECK_FALSE(stored->disabled);

    check_refused(catalog.update_user("nobody", 3u, std::nullopt), outcome::not_found);
    CHECK_FALSE(catalog.find_user("nobody").has_value());
}

TEST_CASE_METHOD(admin_fixture, "deleting a user removes them and their keys", "[catalog]") {
    make_user("alice");
    make_user("bob");
    const auto alice_key = make_key("alice");
    const auto bob_key = make_key("bob");

    const auto r = catalog.delete_user("alice");
    REQUIRE(r.status == outcome::ok);
    CHECK(r.value->name == "alice");
    CHECK_FALSE(catalog.find_user("alice").has_value());
    CHECK_FALSE(catalog.find_key(alice_key.record.key_id).has_value());
    CHECK(catalog.find_key(bob_key.record.key_id).has_value());
    CHECK(observer.events.back() == "deleted alice");

    check_refused(catalog.delete_user("alice"), outcome::not_found);
}

TEST_CASE_METHOD(admin_fixture, "a created key is returned in plain once and stored as a hash",
                 "[catalog]") {
    make_user("alice");
    const auto before = rl::common::wall_now();
    const auto r = catalog.create_key("alice", "ci runner", 0);
    REQUIRE(r.status == outcome::created);
    const created_key& created = *r.value;

    CHECK(created.key.rfind("rl_" + rl::common::route_of("alice") + "_", 0) == 0);
    CHECK(created.record.hash == sha256(created.key));
    CHECK(created.record.user == "alice");
    CHECK(created.record.label == "ci runner");
    CHECK(created.record.created_at >= before);
    CHECK(created.record.expires_at == 0);
    CHECK(created.record.revoked_at == 0);

    const auto stored = catalog.find_key(created.record.key_id);
    REQUIRE(stored.has_value());
    CHECK(stored->hash == sha256(created.key));
    CHECK(catalog.store().catalog().find_key(sha256(created.key))->key_id == created.record.key_id);

    SECTION("and the plain key is nowhere in the data directory") {
        const std::string plain = created.key;
        const std::string secret = plain.substr(plain.size() - 32);
        const std::string hash(reinterpret_cast<const char*>(created.record.hash.data()),
                               created.record.hash.size());
        db->flush();
        db.reset();
        const std::string on_disk = directory_bytes(directory);
        CHECK(on_disk.find(hash) != std::string::npos);  // the scan does see the key's record
        CHECK(on_disk.find(plain) == std::string::npos);
        CHECK(on_disk.find(secret) == std::string::npos);
    }
}

TEST_CASE_METHOD(admin_fixture, "keys are created only for existing users with sane details",
                 "[catalog]") {
    make_user("alice");
    check_refused(catalog.create_key("nobody", "", 0), outcome::not_found);
    check_refused(catalog.create_key("alice", std::string(201, 'l'), 0), outcome::invalid);
    check_refused(catalog.create_key("alice", "line\nbreak", 0), outcome::invalid);
    check_refused(catalog.create_key("alice", "", rl::common::wall_now() - 1), outcome::invalid);
    CHECK(observer.events.size() == 1);

    CHECK(catalog.create_key("alice", std::string(200, 'l'), 0).status == outcome::created);
    const auto expires = rl::common::wall_now() + 3600;
    const auto r = catalog.create_key("alice", "", expires);
    REQUIRE(r.status == outcome::created);
    CHECK(catalog.find_key(r.value->record.key_id)->expires_at == expires);
}

TEST_CASE_METHOD(admin_fixture, "importing a key is idempotent for its owner", "[catalog]") {
    make_user("alice");
    make_user("bob");

    const auto first = catalog.import_key("alice", "legacy-key-1", "from the old system");
    REQUIRE(first.status == outcome::created);
    CHECK(first.value->hash == sha256("legacy-key-1"));
    CHECK(first.value->user == "alice");
    CHECK(first.value->label == "from the old system");
    const std::size_t events = observer.events.size();

    const auto again = catalog.import_key("alice", "legacy-key-1", "another label");
    REQUIRE(again.status == outcome::ok);
    CHECK(again.value->key_id == first.value->key_id);
    CHECK(again.value->label == "from the old system");
    CHECK(observer.events.size() == events);

    check_refused(catalog.import_key("bob", "legacy-key-1", ""), outcome::conflict);
    check_refused(catalog.import_key("bob", make_key("alice").key, ""), outcome::conflict);
    CHECK(catalog.list_keys(std::string_view("bob")).value->empty());
}

TEST_CASE_METHOD(admin_fixture, "importing a malformed key or for a missing user is refused",
                 "[catalog]") {
    make_user("alice");
    for (const std::string& key : {std::string(), std::string("has space"), std::string(257, 'k'),
                                   std::string("caf\xc3\xa9")}) {
        CAPTURE(key);
        check_refused(catalog.import_key("alice", key, ""), outcome::invalid);
    }
    check_refused(catalog.import_key("alice", "fine-key", "bad\x01label"), outcome::invalid);
    check_refused(catalog.import_key("nobody", "fine-key", ""), outcome::not_found);
    CHECK(catalog.list_keys(std::nullopt).value->empty());
}

TEST_CASE_METHOD(admin_fixture,
                 "an imported key shaped like a generated one must carry its user's route",
                 "[catalog]") {
    make_user("alice");
    const std::string own = "rl_" + rl::common::route_of("alice") + "_imported";
    const std::string other = "rl_" + rl::common::route_of("bob") + "_imported";
    CHECK(catalog.import_key("alice", own, "").status == outcome::created);
    const auto refused = catalog.import_key("alice", other, "");
    check_refused(refused, outcome::invalid);
    CHECK(refused.message.find(rl::common::route_of("alice")) != std::string::npos);
    // Not shaped like one: imported as any other key.
    CHECK(catalog.import_key("alice", "rl_notahexroute_x", "").status == outcome::created);
    const auto summary = catalog.import({{"alice", other, std::nullopt, std::nullopt, ""}});
    REQUIRE(summary.errors.size() == 1);
    CHECK(summary.keys_imported == 0);
}

TEST_CASE_METHOD(admin_fixture, "revoking a key stamps it once", "[catalog]") {
    make_user("alice");
    const auto key = make_key("alice");
    const std::size_t events = observer.events.size();

    const auto r = catalog.revoke_key(key.record.key_id);
    REQUIRE(r.status == outcome::ok);
    CHECK(r.value->revoked_at >= key.record.created_at);
    CHECK(catalog.find_key(key.record.key_id)->revoked_at == r.value->revoked_at);
    CHECK(observer.events.size() == events + 1);
    CHECK(observer.keys.back().revoked_at == r.value->revoked_at);

    const auto again = catalog.revoke_key(key.record.key_id);
    REQUIRE(again.status == outcome::ok);
    CHECK(again.value->revoked_at == r.value->revoked_at);
    CHECK(observer.events.size() == events + 1);

    check_refused(catalog.revoke_key(key.record.key_id + 1), outcome::not_found);
}

TEST_CASE_METHOD(admin_fixture, "keys are listed for everyone or for one user", "[catalog]") {
    make_user("alice");
    make_user("bob");
    make_user("carol");
    const auto a1 = make_key("alice").record.key_id;
    const auto a2 = make_key("alice").record.key_id;
    const auto b1 = make_key("bob").record.key_id;

    const auto all = catalog.list_keys(std::nullopt);
    REQUIRE(all.status == outcome::ok);
    std::vector<std::uint64_t> expected = {a1, a2, b1};
    std::sort(expected.begin(), expected.end());
    CHECK(ids_of(*all.value) == expected);

    std::vector<std::uint64_t> alices = {a1, a2};
    std::sort(alices.begin(), alices.end());
    CHECK(ids_of(*catalog.list_keys(std::string_view("alice")).value) == alices);
    CHECK(ids_of(*catalog.list_keys(std::string_view("bob")).value) ==
          std::vector<std::uint64_t>{b1});
    CHECK(catalog.list_keys(std::string_view("carol")).value->empty());
    check_refused(catalog.list_keys(std::string_view("nobody")), outcome::not_found);
}

TEST_CASE_METHOD(admin_fixture, "a bulk import reports what it created and which rows failed",
                 "[catalog]") {
    make_user("dave");
    catalog.import_key("dave", "dave-key", "");
    const std::vector<import_row> rows = {
        {"alice", "alice-key-1", 5},             // 0: new user and key
        {"alice", "alice-key-2", std::nullopt},  // 1: second key of the same new user
        {"bob", "bob-key", std::nullopt},        // 2: new user on the default limit
        {"bad name", "some-key", std::nullopt},  // 3: invalid user name
        {"carol", "bad key", std::nullopt},      // 4: invalid key
        {"carol", "dave-key", std::nullopt},     // 5: another user's key
        {"erin", "erin-key", 0u},                // 6: invalid limit
        {"dave", "dave-key", std::nullopt},      // 7: already imported
        {"bob", "alice-key-1", std::nullopt},    // 8: a key taken earlier in this import
    };

    const auto summary = catalog.import(rows);
    CHECK(counts_of(summary) == import_counts{2, 0, 3, 1});
    CHECK(error_rows(summary) == std::vector<std::size_t>{3, 4, 5, 6, 8});

    CHECK(names_of(catalog.list_users()) == std::vector<std::string>{"alice", "bob", "dave"});
    CHECK(catalog.find_user("alice")->limits == "1s:5");
    CHECK(catalog.find_user("bob")->plan == "default");
    CHECK(catalog.store().catalog().find_key(sha256("alice-key-2"))->user == "alice");
    CHECK(catalog.store().catalog().find_key(sha256("bob-key"))->user == "bob");
    CHECK(catalog.store().catalog().find_key(sha256("dave-key"))->user == "dave");

    SECTION("and importing the same rows again changes nothing") {
        const std::size_t events = observer.events.size();
        const auto second = catalog.import(rows);
        CHECK(counts_of(second) == import_counts{0, 0, 0, 4});
        CHECK(error_rows(second) == std::vector<std::size_t>{3, 4, 5, 6, 8});
        CHECK(observer.events.size() == events);
        CHECK(catalog.list_keys(std::nullopt).value->size() == 4);
    }
}

TEST_CASE_METHOD(admin_fixture, "a bulk import updates limits that differ, the last row winning",
                 "[catalog]") {
    make_user("alice", 5);
    make_user("bob", 5);
    const auto summary = catalog.import({
        {"alice", "alice-key", 7},
        {"bob", "bob-key", std::nullopt},
        {"bob", "bob-key-2", 5},
        {"carol", "carol-key-1", 3},
        {"carol", "carol-key-2", 4},
    });
    CHECK(counts_of(summary) == import_counts{1, 1, 5, 0});
    CHECK(summary.errors.empty());
    CHECK(catalog.find_user("alice")->limits == "1s:7");
    CHECK(catalog.find_user("bob")->limits == "1s:5");
    CHECK(catalog.find_user("carol")->limits == "1s:4");
}

TEST_CASE_METHOD(admin_fixture, "an import with nothing new writes nothing", "[catalog]") {
    const auto summary = catalog.import({{"", "", std::nullopt}});
    CHECK(error_rows(summary) == std::vector<std::size_t>{0});
    CHECK(catalog.list_users().empty());
    CHECK(observer.events.empty());
    CHECK(catalog.import({}).errors.empty());
}

TEST_CASE_METHOD(admin_fixture, "the observer is told about every change and nothing else",
                 "[catalog]") {
    make_user("alice");
    catalog.create_user("alice", std::nullopt);  // refused
    catalog.update_user("alice", 3u, std::nullopt);
    const auto key = make_key("alice");
    const auto imported = *catalog.import_key("alice", "legacy", "").value;
    catalog.import_key("alice", "legacy", "");  // unchanged
    catalog.revoke_key(key.record.key_id);
    catalog.import({{"bob", "bob-key", 2}});
    catalog.delete_user("alice");
    catalog.delete_user("alice");  // refused

    REQUIRE(observer.keys.size() == 4);
    const std::string bob_key_id = rl::common::format_key_id(observer.keys[3].key_id);
    CHECK(observer.events ==
          std::vector<std::string>{"user alice", "user alice",
                                   "key " + rl::common::format_key_id(key.record.key_id),
                                   "key " + rl::common::format_key_id(imported.key_id),
                                   "key " + rl::common::format_key_id(key.record.key_id),
                                   "user bob", "key " + bob_key_id, "deleted alice"});
    CHECK(observer.users[1].limits == "1s:3");
    CHECK(observer.keys[2].revoked_at != 0);
    CHECK(observer.keys[3].user == "bob");
    CHECK(observer.keys[3].hash == sha256("bob-key"));
}

TEST_CASE("a limit as text is digits only, from 1 to max_limit", "[catalog]") {
    using rl::admin::parse_limit;
    CHECK(parse_limit("1") == 1u);
    CHECK(parse_limit("100000") == max_limit);
    for (const char* bad :
         {"", "0", "100001", "+5", "-1", "5.0", " 5", "ten", "0x10", "9999999999"})
        CHECK_FALSE(parse_limit(bad));
}
