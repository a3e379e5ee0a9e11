#include "admin/admin_api.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "tests/admin/admin_fixture.hpp"

namespace {

using namespace rl::admin;
using nlohmann::json;
using rl::common::format_rfc3339;
using rl::common::parse_rfc3339;
using rl::common::wall_now;

std::set<std::string> fields_of(const json& object) {
    std::set<std::string> fields;
    for (const auto& item : object.items()) fields.insert(item.key());
    return fields;
}

const std::set<std::string> user_fields = {"name",          "plan",     "limits", "limit",
                                           "default_limit", "disabled", "route",  "created_at"};
const std::set<std::string> plan_fields = {"name",    "limits",     "shadow",
                                           "builtin", "created_at", "updated_at"};
const std::set<std::string> key_fields = {"key_id",     "user",       "label",     "status",
                                          "created_at", "expires_at", "revoked_at"};

// A timestamp field of a response: RFC 3339 text, read back as Unix seconds.
std::optional<rl::common::unix_seconds> time_field(const json& body, const char* name) {
    if (!body.contains(name) || !body[name].is_string()) return std::nullopt;
    return parse_rfc3339(body[name].get<std::string>());
}

struct api_fixture : rl::testing::admin_fixture {
    admin_api api{catalog};

    api_response call(std::string method, std::string path, std::string body = "",
                      std::map<std::string, std::string> query = {}) {
        return api.handle({std::move(method), std::move(path), std::move(query), std::move(body)});
    }
    api_response post(std::string path, const json& body) {
        return call("POST", std::move(path), body.dump());
    }
    api_response usage(std::map<std::string, std::string> query) {
        return call("GET", "/v1/usage", "", std::move(query));
    }
};

// An RFC 9457 problem with the given status, whose detail mentions `detail_part`.
void check_problem(const api_response& r, int status, const std::string& detail_part = "") {
    INFO(r.body.dump());
    CHECK(r.status == status);
    REQUIRE(r.body.is_object());
    CHECK(fields_of(r.body) == std::set<std::string>{"type", "title", "status", "detail"});
    CHECK(r.body["status"] == status);
    CHECK(r.body["type"].get<std::string>().rfind("urn:ratelimitd:problem:", 0) == 0);
    CHECK_FALSE(r.body["title"].get<std::string>().empty());
    CHECK(r.body["detail"].get<std::string>().find(detail_part) != std::string::npos);
}

}  // namespace

TEST_CASE_METHOD(api_fixture, "POST /v1/users creates a user and answers 201 with it",
                 "[admin_api]") {
    const auto r = post("/v1/users", {{"name", "alice"}});
    REQUIRE(r.status == 201);
    CHECK(fields_of(r.body) == user_fields);
    CHECK(r.body["name"] == "alice");
    CHECK(r.body["limit"] == 10);
    CHECK(r.body["default_limit"] == true);
    CHECK(r.body["disabled"] == false);
    CHECK(r.body["route"] == rl::common::route_of("alice"));
    CHECK(time_field(r.body, "created_at").has_value());
    CHECK(catalog.find_user("alice").has_value());

    const auto own = post("/v1/users", {{"name", "bob"}, {"limit", 25}});
    REQUIRE(own.status == 201);
    CHECK(own.body["limit"] == 25);
    CHECK(own.body["default_limit"] == false);
}

TEST_CASE_METHOD(api_fixture, "POST /v1/users for an existing name is a 409 problem",
                 "[admin_api]") {
    REQUIRE(post("/v1/users", {{"name", "alice"}}).status == 201);
    const auto r = post("/v1/users", {{"name", "alice"}, {"limit", 3}});
    check_problem(r, 409, "alice");
    CHECK(r.body["type"] == "urn:ratelimitd:problem:conflict");
    CHECK(catalog.find_user("alice")->plan == "default");
}

TEST_CASE_METHOD(api_fixture, "POST /v1/users with a malformed body or bad fields is a 400",
                 "[admin_api]") {
    for (const std::string body :
         {"", "not json", "{\"name\": \"alice\"", "[1, 2]", "\"alice\"", "{}", "{\"name\": 5}",
          "{\"name\": null}", "{\"name\": \"two words\"}", "{\"name\": \"x\", \"limit\": -1}",
          "{\"name\": \"x\", \"limit\": \"ten\"}", "{\"name\": \"x\", \"limit\": 1.5}",
          "{\"name\": \"x\", \"limit\": 0}", "{\"name\": \"x\", \"limit\": 100001}",
          "{\"name\": \"x\", \"limit\": 4294967296}", "{\"name\": \"x\", \"limit\": true}"}) {
        CAPTURE(body);
        const auto r = call("POST", "/v1/users", body);
        check_problem(r, 400);
        CHECK(r.body["type"] == "urn:ratelimitd:problem:invalid-request");
    }
    CHECK(catalog.list_users().empty());
}

TEST_CASE_METHOD(api_fixture, "GET /v1/users lists users and GET /v1/users/NAME shows one",
                 "[admin_api]") {
    make_user("bob", 4);
    make_user("alice");

    const auto list = call("GET", "/v1/users");
    REQUIRE(list.status == 200);
    REQUIRE(list.body["users"].size() == 2);
    CHECK(list.body["users"][0]["name"] == "alice");
    CHECK(list.body["users"][1]["name"] == "bob");
    CHECK(list.body["users"][1]["limit"] == 4);
    CHECK(fields_of(list.body["users"][0]) == user_fields);

    const auto one = call("GET", "/v1/users/bob");
    REQUIRE(one.status == 200);
    CHECK(one.body == list.body["users"][1]);

    check_problem(call("GET", "/v1/users/nobody"), 404, "nobody");
}

TEST_CASE_METHOD(api_fixture, "PATCH /v1/users/NAME changes the limit and the disabled flag",
                 "[admin_api]") {
    make_user("alice");
    const auto r = call("PATCH", "/v1/users/alice", R"({"limit": 5, "disabled": true})");
    REQUIRE(r.status == 200);
    CHECK(r.body["limit"] == 5);
    CHECK(r.body["default_limit"] == false);
    CHECK(r.body["disabled"] == true);
    CHECK(catalog.find_user("alice")->disabled);

    const auto unchanged = call("PATCH", "/v1/users/alice", "");
    REQUIRE(unchanged.status == 200);
    CHECK(unchanged.body == r.body);

    check_problem(call("PATCH", "/v1/users/alice", R"({"disabled": "yes"})"), 400, "disabled");
    check_problem(call("PATCH", "/v1/users/alice", R"({"limit": 0})"), 400);
    check_problem(call("PATCH", "/v1/users/nobody", R"({"limit": 5})"), 404, "nobody");
    CHECK(catalog.find_user("alice")->limits == "1s:5");
}

TEST_CASE_METHOD(api_fixture, "DELETE /v1/users/NAME answers with the deleted user",
                 "[admin_api]") {
    make_user("alice", 7);
    const auto r = call("DELETE", "/v1/users/alice");
    REQUIRE(r.status == 200);
    CHECK(r.body["name"] == "alice");
    CHECK(r.body["limit"] == 7);
    CHECK_FALSE(catalog.find_user("alice").has_value());
    check_problem(call("DELETE", "/v1/users/alice"), 404, "alice");
}

TEST_CASE_METHOD(api_fixture, "POST /v1/keys answers 201 with the plain key, shown only then",
                 "[admin_api]") {
    make_user("alice");
    const auto r = post("/v1/keys", {{"user", "alice"}, {"label", "ci"}});
    REQUIRE(r.status == 201);
    auto expected_fields = key_fields;
    expected_fields.insert("key");
    CHECK(fields_of(r.body) == expected_fields);
    CHECK(r.body["user"] == "alice");
    CHECK(r.body["label"] == "ci");
    CHECK(r.body["status"] == "active");
    CHECK(r.body["expires_at"].is_null());
    CHECK(r.body["revoked_at"].is_null());

    const std::string key = r.body["key"];
    const auto key_id = rl::common::parse_key_id(r.body["key_id"].get<std::string>());
    REQUIRE(key_id.has_value());
    CHECK(catalog.find_key(*key_id)->hash == rl::common::sha256(key));

    const auto shown = call("GET", "/v1/keys/" + r.body["key_id"].get<std::string>());
    REQUIRE(shown.status == 200);
    CHECK(fields_of(shown.body) == key_fields);
    CHECK(shown.body.dump().find(key) == std::string::npos);
    const auto listed = call("GET", "/v1/keys");
    REQUIRE(listed.status == 200);
    CHECK(listed.body.dump().find(key) == std::string::npos);
}

TEST_CASE_METHOD(api_fixture, "POST /v1/keys takes an expiry as a duration or a time",
                 "[admin_api]") {
    make_user("alice");
    const auto relative = post("/v1/keys", {{"user", "alice"}, {"expires", "30d"}});
    REQUIRE(relative.status == 201);
    const auto lifetime =
        *time_field(relative.body, "expires_at") - *time_field(relative.body, "created_at");
    CHECK(lifetime >= 30 * 86400 - 1);  // the two are read from the clock separately
    CHECK(lifetime <= 30 * 86400 + 1);

    const auto absolute =
        post("/v1/keys", {{"user", "alice"}, {"expires", "2099-01-01T00:00:00+01:00"}});
    REQUIRE(absolute.status == 201);
    CHECK(absolute.body["expires_at"] == "2098-12-31T23:00:00Z");
    CHECK(absolute.body["status"] == "active");
}

TEST_CASE_METHOD(api_fixture, "POST /v1/keys with bad fields is a 400, for nobody a 404",
                 "[admin_api]") {
    make_user("alice");
    for (const json& body :
         {json{{"label", "x"}}, json{{"user", 1}}, json{{"user", "alice"}, {"expires", "soon"}},
          json{{"user", "alice"}, {"expires", "2001-01-01T00:00:00Z"}},
          json{{"user", "alice"}, {"label", std::string(201, 'l')}},
          json{{"user", "alice"}, {"label", 5}}}) {
        CAPTURE(body.dump());
        check_problem(post("/v1/keys", body), 400);
    }
    check_problem(post("/v1/keys", {{"user", "nobody"}}), 404, "nobody");
    CHECK(catalog.list_keys(std::nullopt).value->empty());
}

TEST_CASE_METHOD(api_fixture, "GET /v1/keys lists keys, for everyone or ?user=NAME",
                 "[admin_api]") {
    make_user("alice");
    make_user("bob");
    make_key("alice");
    make_key("alice");
    const auto bobs = make_key("bob");

    const auto all = call("GET", "/v1/keys");
    REQUIRE(all.status == 200);
    CHECK(all.body["keys"].size() == 3);
    for (const auto& key : all.body["keys"]) CHECK(fields_of(key) == key_fields);

    const auto one = call("GET", "/v1/keys", "", {{"user", "bob"}});
    REQUIRE(one.status == 200);
    REQUIRE(one.body["keys"].size() == 1);
    CHECK(one.body["keys"][0]["key_id"] == rl::common::format_key_id(bobs.record.key_id));

    check_problem(call("GET", "/v1/keys", "", {{"user", "nobody"}}), 404, "nobody");
}

TEST_CASE_METHOD(api_fixture, "GET /v1/keys/ID shows a key, its status and bad or unknown ids",
                 "[admin_api]") {
    make_user("alice");
    const auto created = make_key("alice", "ci");
    const std::string id = rl::common::format_key_id(created.record.key_id);
    const auto r = call("GET", "/v1/keys/" + id);
    REQUIRE(r.status == 200);
    CHECK(r.body["key_id"] == id);
    CHECK(r.body["label"] == "ci");
    CHECK(r.body["status"] == "active");

    key_record expired = created.record;
    expired.expires_at = wall_now() - 10;
    db->catalog().put_key(expired);
    CHECK(call("GET", "/v1/keys/" + id).body["status"] == "expired");

    check_problem(call("GET", "/v1/keys/not-a-key-id"), 400);
    check_problem(call("GET", "/v1/keys/" + id.substr(1)), 400);
    const std::string other = rl::common::format_key_id(created.record.key_id ^ 1);
    check_problem(call("GET", "/v1/keys/" + other), 404, other);
}

TEST_CASE_METHOD(api_fixture, "POST /v1/keys/ID/revoke marks the key revoked", "[admin_api]") {
    make_user("alice");
    const std::string id = rl::common::format_key_id(make_key("alice").record.key_id);
    const auto r = call("POST", "/v1/keys/" + id + "/revoke");
    REQUIRE(r.status == 200);
    CHECK(r.body["status"] == "revoked");
    CHECK(time_field(r.body, "revoked_at").has_value());
    CHECK(call("POST", "/v1/keys/" + id + "/revoke").body["revoked_at"] == r.body["revoked_at"]);

    check_problem(call("POST", "/v1/keys/0000000000000000/revoke"), 404);
    check_problem(call("POST", "/v1/keys/xyz/revoke"), 400);
}

TEST_CASE_METHOD(api_fixture, "POST /v1/keys/import is 201, then 200, then 409 for another user",
                 "[admin_api]") {
    make_user("alice");
    make_user("bob");
    const json body = {{"user", "alice"}, {"key", "legacy-key-1"}, {"label", "old"}};
    const auto first = post("/v1/keys/import", body);
    REQUIRE(first.status == 201);
    CHECK(fields_of(first.body) == key_fields);
    CHECK(first.body["label"] == "old");
    CHECK(first.body.dump().find("legacy-key-1") == std::string::npos);

    const auto again = post("/v1/keys/import", body);
    REQUIRE(again.status == 200);
    CHECK(again.body["key_id"] == first.body["key_id"]);

    check_problem(post("/v1/keys/import", {{"user", "bob"}, {"key", "legacy-key-1"}}), 409);
    check_problem(post("/v1/keys/import", {{"user", "bob"}, {"key", "has space"}}), 400);
    check_problem(post("/v1/keys/import", {{"user", "bob"}}), 400, "key");
    check_problem(post("/v1/keys/import", {{"user", "nobody"}, {"key", "k"}}), 404, "nobody");
}

TEST_CASE_METHOD(api_fixture, "POST /v1/import answers with the summary and failed rows",
                 "[admin_api]") {
    const json body = {{"rows",
                        {{{"user", "alice"}, {"key", "k1"}, {"limit", 5}},
                         {{"user", "bad name"}, {"key", "k2"}},
                         {{"user", "alice"}, {"key", "k3"}}}}};
    const auto r = post("/v1/import", body);
    REQUIRE(r.status == 200);
    CHECK(r.body["users_created"] == 1);
    CHECK(r.body["users_updated"] == 0);
    CHECK(r.body["keys_imported"] == 2);
    CHECK(r.body["keys_unchanged"] == 0);
    REQUIRE(r.body["errors"].size() == 1);
    CHECK(r.body["errors"][0]["row"] == 1);
    CHECK_FALSE(r.body["errors"][0]["error"].get<std::string>().empty());

    const auto again = post("/v1/import", body);
    REQUIRE(again.status == 200);
    CHECK(again.body["users_created"] == 0);
    CHECK(again.body["keys_imported"] == 0);
    CHECK(again.body["keys_unchanged"] == 2);
}

TEST_CASE_METHOD(api_fixture, "POST /v1/import without an array of row objects is a 400",
                 "[admin_api]") {
    for (const json& body :
         {json::object(), json{{"rows", "alice,k1"}}, json{{"rows", {1, 2}}},
          json{{"rows", {{{"user", "alice"}}}}},
          json{{"rows", {{{"user", "alice"}, {"key", "k"}, {"limit", "many"}}}}}}) {
        CAPTURE(body.dump());
        check_problem(post("/v1/import", body), 400);
    }
    CHECK(catalog.list_users().empty());
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage reports buckets and totals for a range",
                 "[admin_api]") {
    make_user("alice");
    make_user("bob");
    const auto alices = make_key("alice").record.key_id;
    const auto bobs = make_key("bob").record.key_id;
    constexpr rl::common::unix_seconds hour = 1795813200;  // 2026-11-27T21:00:00Z
    REQUIRE(db->usage().add(
        {{hour + 1, alices, {2, 1}}, {hour + 61, alices, {3, 0}}, {hour + 62, bobs, {5, 5}}}));
    const std::map<std::string, std::string> range = {
        {"since", format_rfc3339(hour)}, {"until", format_rfc3339(hour + 119)}, {"step", "1m"}};

    const auto all = usage(range);
    REQUIRE(all.status == 200);
    CHECK(all.body["since"] == "2026-11-27T21:00:00Z");
    CHECK(all.body["until"] == "2026-11-27T21:01:59Z");
    CHECK(all.body["step"] == 60);
    CHECK(all.body["buckets"] == json::parse(R"([
        {"start": "2026-11-27T21:00:00Z", "allowed": 2, "rejected": 1, "shadow_limited": 0},
        {"start": "2026-11-27T21:01:00Z", "allowed": 8, "rejected": 5, "shadow_limited": 0}])"));
    CHECK(all.body["total"] == json{{"allowed", 10}, {"rejected", 6}, {"shadow_limited", 0}});

    auto for_alice = range;
    for_alice["user"] = "alice";
    CHECK(usage(for_alice).body["total"] ==
          json{{"allowed", 5}, {"rejected", 1}, {"shadow_limited", 0}});

    auto for_key = range;
    for_key["key_id"] = rl::common::format_key_id(bobs);
    CHECK(usage(for_key).body["total"] ==
          json{{"allowed", 5}, {"rejected", 5}, {"shadow_limited", 0}});
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage reports shadow-limited requests beside the others",
                 "[admin_api]") {
    make_user("alice");
    make_user("bob");
    const auto alices = make_key("alice").record.key_id;
    const auto bobs = make_key("bob").record.key_id;
    constexpr rl::common::unix_seconds hour = 1795813200;  // 2026-11-27T21:00:00Z
    REQUIRE(db->usage().add({{hour + 1, alices, {2, 0, 4}},
                             {hour + 2, alices, {1, 0, 3}},
                             {hour + 61, alices, {3, 1, 0}},
                             {hour + 62, bobs, {0, 0, 6}}}));
    const std::map<std::string, std::string> range = {
        {"since", format_rfc3339(hour)}, {"until", format_rfc3339(hour + 119)}, {"step", "1m"}};

    const auto all = usage(range);
    REQUIRE(all.status == 200);
    CHECK(all.body["buckets"] == json::parse(R"([
        {"start": "2026-11-27T21:00:00Z", "allowed": 3, "rejected": 0, "shadow_limited": 7},
        {"start": "2026-11-27T21:01:00Z", "allowed": 3, "rejected": 1, "shadow_limited": 6}])"));
    CHECK(all.body["total"] ==
          json::parse(R"({"allowed": 6, "rejected": 1, "shadow_limited": 13})"));

    auto for_bob = range;
    for_bob["user"] = "bob";
    CHECK(usage(for_bob).body["buckets"] == json::parse(R"([
        {"start": "2026-11-27T21:01:00Z", "allowed": 0, "rejected": 0, "shadow_limited": 6}])"));

    // The same from the roll-ups once the minutes are folded.
    REQUIRE(db->usage().fold(rl::storage::usage_resolution::minute, hour + 120) == 2);
    db->usage().expire(rl::storage::usage_resolution::second, hour + 120);
    const auto folded = usage(range);
    REQUIRE(folded.status == 200);
    CHECK(folded.body["buckets"] == all.body["buckets"]);
    CHECK(folded.body["total"] == all.body["total"]);
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage defaults to the last hour", "[admin_api]") {
    make_user("alice");
    const auto key = make_key("alice").record.key_id;
    const auto now = wall_now();
    REQUIRE(db->usage().add({{now - 10, key, {4, 0}}, {now - 7200, key, {100, 0}}}));

    const auto r = usage({});
    REQUIRE(r.status == 200);
    CHECK(r.body["total"]["allowed"] == 4);
    CHECK(r.body["step"] == 60);
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage with bad parameters is a 400, for nobody a 404",
                 "[admin_api]") {
    make_user("alice");
    using query = std::map<std::string, std::string>;
    for (const query& q : {query{{"user", "alice"}, {"key_id", "0000000000000001"}},
                           query{{"key_id", "12"}}, query{{"since", "yesterday"}},
                           query{{"until", "later"}}, query{{"since", "1h"}, {"until", "2h"}},
                           query{{"step", "0s"}}, query{{"step", "fortnightly"}}}) {
        CAPTURE(json(q).dump());
        check_problem(usage(q), 400);
    }
    check_problem(usage({{"user", "nobody"}}), 404, "nobody");
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage/top ranks users by admitted and by rejected",
                 "[admin_api]") {
    const auto now = wall_now();
    std::vector<rl::storage::usage_bucket> buckets;
    for (const auto& [name, allowed, rejected] :
         std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>>{
             {"ann", 30, 0}, {"bea", 10, 7}, {"cid", 20, 2}, {"dan", 0, 9}}) {
        make_user(name);
        const auto first = make_key(name).record.key_id;
        const auto second = make_key(name).record.key_id;
        buckets.push_back({now - 100, first, {allowed / 2, rejected}});
        buckets.push_back({now - 30, second, {allowed - allowed / 2, 0}});
    }
    buckets.push_back({now - 4000, buckets.front().key_id, {1000, 1000}});  // before the range
    REQUIRE(db->usage().add(buckets));

    const auto top = call("GET", "/v1/usage/top", "", {{"since", "5m"}, {"limit", "2"}});
    REQUIRE(top.status == 200);
    CHECK(top.body["by_admitted"] == json::parse(R"([
        {"user": "ann", "allowed": 30, "rejected": 0, "shadow_limited": 0},
        {"user": "cid", "allowed": 20, "rejected": 2, "shadow_limited": 0}])"));
    CHECK(top.body["by_rejected"] == json::parse(R"([
        {"user": "dan", "allowed": 0, "rejected": 9, "shadow_limited": 0},
        {"user": "bea", "allowed": 10, "rejected": 7, "shadow_limited": 0}])"));
    CHECK(top.body["total"] == json{{"allowed", 60}, {"rejected", 18}, {"shadow_limited", 0}});
    CHECK_FALSE(top.body.contains("by_shadow"));  // nothing was counted in shadow mode

    const auto rejected = call("GET", "/v1/usage/top", "", {{"since", "5m"}, {"by", "rejected"}});
    CHECK_FALSE(rejected.body.contains("by_admitted"));
    CHECK_FALSE(rejected.body.contains("by_shadow"));
    CHECK(rejected.body["by_rejected"].size() == 3);  // ann rejected nothing
    const auto shadow = call("GET", "/v1/usage/top", "", {{"since", "5m"}, {"by", "shadow"}});
    REQUIRE(shadow.status == 200);
    CHECK(shadow.body["by_shadow"] == json::array());
    for (const auto& q : std::vector<std::map<std::string, std::string>>{
             {{"limit", "0"}}, {{"limit", "x"}}, {{"by", "weight"}}, {{"since", "soon"}}})
        check_problem(call("GET", "/v1/usage/top", "", q), 400);
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage/top ranks users by shadow-limited requests",
                 "[admin_api]") {
    const auto now = wall_now();
    std::vector<rl::storage::usage_bucket> buckets;
    for (const auto& [name, allowed, rejected, shadow] :
         std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t, std::uint64_t>>{
             {"ann", 30, 0, 0}, {"bea", 10, 7, 5}, {"cid", 20, 0, 12}, {"dan", 1, 0, 5}}) {
        make_user(name);
        const auto first = make_key(name).record.key_id;
        const auto second = make_key(name).record.key_id;
        buckets.push_back({now - 100, first, {allowed, rejected, shadow / 2}});
        buckets.push_back({now - 30, second, {0, 0, shadow - shadow / 2}});
    }
    buckets.push_back({now - 4000, buckets.front().key_id, {0, 0, 1000}});  // before the range
    REQUIRE(db->usage().add(buckets));

    const auto top = call("GET", "/v1/usage/top", "", {{"since", "5m"}, {"by", "shadow"}});
    REQUIRE(top.status == 200);
    CHECK_FALSE(top.body.contains("by_admitted"));
    CHECK_FALSE(top.body.contains("by_rejected"));
    // Most first; bea and dan tie on 5 and keep the order of the admitted ranking (bea first).
    CHECK(top.body["by_shadow"] == json::parse(R"([
        {"user": "cid", "allowed": 20, "rejected": 0, "shadow_limited": 12},
        {"user": "bea", "allowed": 10, "rejected": 7, "shadow_limited": 5},
        {"user": "dan", "allowed": 1, "rejected": 0, "shadow_limited": 5}])"));
    CHECK(top.body["total"] == json{{"allowed", 61}, {"rejected", 7}, {"shadow_limited", 22}});

    const auto two =
        call("GET", "/v1/usage/top", "", {{"since", "5m"}, {"by", "shadow"}, {"limit", "2"}});
    CHECK(two.body["by_shadow"].size() == 2);
    CHECK(two.body["by_shadow"][1]["user"] == "bea");

    // Without `by`, every ranking, the shadow one too since shadow mode counted some.
    const auto all = call("GET", "/v1/usage/top", "", {{"since", "5m"}});
    CHECK(all.body["by_admitted"].size() == 4);
    CHECK(all.body["by_rejected"].size() == 1);
    CHECK(all.body["by_shadow"] == top.body["by_shadow"]);
}

TEST_CASE_METHOD(api_fixture, "GET /v1/usage refuses a step finer than the data kept",
                 "[admin_api]") {
    make_user("alice");
    const auto now = wall_now();
    db->usage().expire(rl::storage::usage_resolution::second, now - 3600);
    const auto fine = usage({{"since", "2h"}, {"step", "1s"}});
    CHECK(fine.status == 400);
    CHECK(fine.body["detail"].get<std::string>().find("per minute only") != std::string::npos);
    const auto coarse = usage({{"since", "2h"}});
    REQUIRE(coarse.status == 200);
    CHECK(coarse.body["resolution"] == 60);
    CHECK(coarse.body["step"] == 60);
    CHECK(usage({{"since", "10m"}, {"step", "1s"}}).status == 200);
}

TEST_CASE_METHOD(api_fixture, "unknown routes and methods are 404 problems", "[admin_api]") {
    make_user("alice");
    using route = std::pair<std::string, std::string>;
    for (const auto& [method, path] :
         {route{"GET", "/"}, route{"GET", "/v2/users"}, route{"PUT", "/v1/users"},
          route{"PUT", "/v1/users/alice"}, route{"GET", "/v1/users/alice/keys"},
          route{"GET", "/v1/nothing"}, route{"POST", "/v1/usage"}, route{"DELETE", "/v1/keys"},
          route{"GET", "/v1/import"}}) {
        CAPTURE(method, path);
        check_problem(call(method, path), 404, path);
    }
}
