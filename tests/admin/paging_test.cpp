// Paged list routes: opaque cursors, page sizes, and walks that stay exact while the catalog
// changes between pages.

#include "admin/paging.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "admin/admin_api.hpp"
#include "tests/admin/admin_fixture.hpp"

namespace {

using namespace rl::admin;
using nlohmann::json;

struct paging_fixture : rl::testing::admin_fixture {
    admin_api api{catalog};

    api_response list(const std::string& path, std::map<std::string, std::string> query) {
        return api.handle({"GET", path, std::move(query), ""});
    }

    // Every page of `path` at `limit` items, calling `between(page number)` after each page.
    std::vector<std::string> walk(const std::string& path, const char* field, const char* id,
                                  std::size_t limit, const std::function<void(int)>& between,
                                  std::map<std::string, std::string> query = {}) {
        std::vector<std::string> seen;
        query["limit"] = std::to_string(limit);
        for (int page = 0;; ++page) {
            const auto r = list(path, query);
            INFO(r.body.dump());
            REQUIRE(r.status == 200);
            REQUIRE(r.body.at(field).size() <= limit);
            for (const auto& item : r.body.at(field)) seen.push_back(item.at(id));
            if (r.body.at("next_cursor").is_null()) break;
            REQUIRE(r.body.at(field).size() == limit);
            query["cursor"] = r.body.at("next_cursor").get<std::string>();
            between(page);
        }
        return seen;
    }
};

std::string name_of(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "u%04d", i);
    return buf;
}

}  // namespace

TEST_CASE("a cursor reads back as the position it was made from", "[paging]") {
    for (const std::string& position :
         {std::string(), std::string("a"), std::string("alice"), std::string("0123456789abcdef"),
          std::string("\x00\xff\x7f", 3), std::string(300, 'z')}) {
        const std::string cursor = encode_cursor(position);
        CHECK(cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_") == std::string::npos);
        CHECK(decode_cursor(cursor) == position);
    }
}

TEST_CASE("anything not made by encode_cursor is refused", "[paging]") {
    const std::string good = encode_cursor("alice");
    for (const std::string& bad :
         {std::string(), std::string("!!!!"), std::string("a"), good + "=",
          good.substr(0, good.size() - 1) + "/", std::string("AgAA")}) {  // AgAA: version 2
        INFO(bad);
        CHECK_FALSE(decode_cursor(bad).has_value());
    }
}

TEST_CASE("a page size is a whole number from 1 to 10000", "[paging]") {
    CHECK(parse_page_size("1") == 1u);
    CHECK(parse_page_size("10000") == 10000u);
    for (const char* bad : {"", "0", "10001", "-1", "+5", "5.0", "1e3", "abc", "99999999999"})
        CHECK_FALSE(parse_page_size(bad).has_value());
}

TEST_CASE_METHOD(paging_fixture, "GET /v1/users pages in name order with a next_cursor",
                 "[paging]") {
    for (int i = 0; i < 25; ++i) make_user(name_of(i));
    const auto all = walk("/v1/users", "users", "name", 10, [](int) {});
    std::vector<std::string> expected;
    for (int i = 0; i < 25; ++i) expected.push_back(name_of(i));
    CHECK(all == expected);

    const auto whole = list("/v1/users", {});
    CHECK(whole.body.at("users").size() == 25);
    CHECK(whole.body.at("next_cursor").is_null());

    // A page that ends exactly at the last user says there is no next one.
    const auto exact = list("/v1/users", {{"limit", "25"}});
    CHECK(exact.body.at("next_cursor").is_null());
}

TEST_CASE_METHOD(paging_fixture,
                 "a walk returns every user present throughout exactly once, in order, "
                 "while others are created and deleted between pages",
                 "[paging]") {
    std::set<std::string> initial, touched;  // touched: created or deleted during the walk
    for (int i = 0; i < 100; i += 2) initial.insert(name_of(i));
    for (int i = 1; i < 100; i += 4) initial.insert(name_of(i));
    for (const auto& name : initial) make_user(name);
    const auto seen = walk("/v1/users", "users", "name", 7, [&](int page) {
        // Delete users ahead of and behind the cursor; create others on both sides.
        for (int i = 1 + 4 * page; i < 100 && i < 1 + 4 * page + 8; i += 4) {
            catalog.delete_user(name_of(i));
            touched.insert(name_of(i));
        }
        for (int i = 3 + 4 * page; i < 100 && i < 3 + 4 * page + 8; i += 4) {
            if (catalog.create_user(name_of(i), std::nullopt).succeeded())
                touched.insert(name_of(i));
        }
        if (page < 10 && catalog.create_user(name_of(99 - 4 * page), std::nullopt).succeeded())
            touched.insert(name_of(99 - 4 * page));
    });
    // Strictly increasing: nothing twice, nothing out of order.
    for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i - 1] < seen[i]);
    const std::set<std::string> got(seen.begin(), seen.end());
    for (const auto& name : initial)
        if (touched.count(name) == 0) CHECK(got.count(name) == 1);
    for (const auto& name : got) CHECK((initial.count(name) == 1 || touched.count(name) == 1));
    CHECK(touched.size() > 20);
}

TEST_CASE_METHOD(paging_fixture,
                 "GET /v1/keys pages in key_id order, of everyone or one user, stable under "
                 "creates and revokes between pages",
                 "[paging]") {
    make_user("alice");
    make_user("bob");
    std::vector<std::string> alices, everyone;
    for (int i = 0; i < 30; ++i) {
        const auto id = rl::common::format_key_id(make_key(i % 3 ? "alice" : "bob").record.key_id);
        everyone.push_back(id);
        if (i % 3) alices.push_back(id);
    }
    std::sort(alices.begin(), alices.end());
    std::sort(everyone.begin(), everyone.end());

    const auto seen = walk("/v1/keys", "keys", "key_id", 4, [&](int) { make_key("alice"); });
    for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i - 1] < seen[i]);
    const std::set<std::string> got(seen.begin(), seen.end());
    for (const auto& id : everyone) CHECK(got.count(id) == 1);

    const auto only = walk("/v1/keys", "keys", "key_id", 3, [](int) {}, {{"user", "alice"}});
    std::set<std::string> alice_now;
    const auto alice_keys = catalog.list_keys(std::string_view("alice"));
    for (const auto& key : *alice_keys.value)
        alice_now.insert(rl::common::format_key_id(key.key_id));
    CHECK(std::set<std::string>(only.begin(), only.end()) == alice_now);
    for (const auto& id : alices) CHECK(alice_now.count(id) == 1);

    CHECK(list("/v1/keys", {{"user", "nobody"}}).status == 404);
}

TEST_CASE_METHOD(paging_fixture, "a malformed cursor or limit is a 400 problem", "[paging]") {
    make_user("alice");
    for (const auto& query :
         std::vector<std::map<std::string, std::string>>{{{"cursor", "not a cursor"}},
                                                         {{"cursor", "AgAA"}},
                                                         {{"limit", "0"}},
                                                         {{"limit", "10001"}},
                                                         {{"limit", "ten"}}}) {
        for (const char* path : {"/v1/users", "/v1/keys"}) {
            const auto r = list(path, query);
            INFO(path << " " << r.body.dump());
            CHECK(r.status == 400);
            CHECK(r.body.at("type") == "urn:ratelimitd:problem:invalid-request");
        }
    }
    // A user's name is no key position.
    const auto users_cursor = encode_cursor("alice");
    CHECK(list("/v1/keys", {{"cursor", users_cursor}}).status == 400);
}
