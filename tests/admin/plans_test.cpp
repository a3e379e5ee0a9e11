// Plans: named policies users follow. The catalog's rules (validation, the built-in "default",
// no delete while followed, user terms) and the admin API over them (/v1/plans, user terms in
// POST/PATCH /v1/users, export and import with plans).

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "admin/admin_api.hpp"
#include "admin/catalog.hpp"
#include "tests/admin/admin_fixture.hpp"

namespace {

using namespace rl::admin;
using nlohmann::json;
using rl::testing::admin_fixture;
namespace limiter = rl::limiter;
using rl::storage::plan_record;
using rl::storage::user_record;

limiter::policy policy(std::string_view text) {
    auto parsed = limiter::parse_policy(text);
    REQUIRE(parsed);
    return *parsed.value;
}

template <typename T>
void check_refused(const result<T>& r, outcome status, const std::string& message_part) {
    INFO(r.message);
    CHECK(r.status == status);
    CHECK_FALSE(r.value.has_value());
    CHECK(r.message.find(message_part) != std::string::npos);
}

struct api_fixture : admin_fixture {
    admin_api api{catalog};

    api_response call(std::string method, std::string path, std::string body = "",
                      std::map<std::string, std::string> query = {}) {
        return api.handle({std::move(method), std::move(path), std::move(query), std::move(body)});
    }
    api_response post(std::string path, const json& body) {
        return call("POST", std::move(path), body.dump());
    }
};

std::set<std::string> fields_of(const json& object) {
    std::set<std::string> fields;
    for (const auto& item : object.items()) fields.insert(item.key());
    return fields;
}

}  // namespace

TEST_CASE_METHOD(admin_fixture, "a plan is created, found, updated and deleted", "[plans]") {
    auto created = catalog.create_plan("free", "1m:300, 1s:10", false);
    REQUIRE(created.status == outcome::created);
    CHECK(created.value->limits == "1s:10,1m:300");  // canonical: sorted, no spaces
    CHECK_FALSE(created.value->shadow);
    CHECK(created.value->created_at > 0);
    CHECK(observer.events.back() == "plan free");

    const auto found = catalog.find_plan("free");
    REQUIRE(found.has_value());
    CHECK(found->limits == "1s:10,1m:300");

    check_refused(catalog.create_plan("free", "1s:1", false), outcome::already_exists, "free");

    auto updated = catalog.update_plan("free", policy("1s:20,day:10000"), true);
    REQUIRE(updated.status == outcome::ok);
    CHECK(updated.value->limits == "1s:20,day:10000");
    CHECK(updated.value->shadow);
    CHECK(updated.value->created_at == created.value->created_at);
    CHECK(observer.plans.back().limits == "1s:20,day:10000");

    updated = catalog.update_plan("free", std::nullopt, false);  // shadow only: limits stay
    CHECK(updated.value->limits == "1s:20,day:10000");
    CHECK_FALSE(updated.value->shadow);
    check_refused(catalog.update_plan("nope", std::nullopt, true), outcome::not_found, "nope");

    REQUIRE(catalog.delete_plan("free").status == outcome::ok);
    CHECK(observer.events.back() == "deleted plan free");
    CHECK_FALSE(catalog.find_plan("free").has_value());
    check_refused(catalog.delete_plan("free"), outcome::not_found, "free");
}

TEST_CASE_METHOD(admin_fixture, "bad policies and names are refused with a clear message",
                 "[plans]") {
    check_refused(catalog.create_plan("p", "2s:0", false), outcome::invalid, "quota");
    check_refused(catalog.create_plan("p", "day:x", false), outcome::invalid, "whole number");
    check_refused(catalog.create_plan("p", "1s:5,1s:6", false), outcome::invalid,
                  "two limits on the window 1s");
    check_refused(catalog.create_plan("p", "1s:1,2s:2,3s:3,4s:4,5s:5,6s:6,7s:7,8s:8,9s:9", false),
                  outcome::invalid, "at most 8 limits");
    check_refused(catalog.create_plan("p", "", false), outcome::invalid, "empty");
    check_refused(catalog.create_plan("two words", "1s:5", false), outcome::invalid,
                  "invalid plan name");
    // A policy built by hand is checked too.
    check_refused(catalog.create_plan("p", limiter::policy{}, false), outcome::invalid,
                  "at least one limit");
    check_refused(catalog.update_plan("p", limiter::policy{{limiter::sliding_limit(1, 0)}}, false),
                  outcome::invalid, "quota");
    CHECK(catalog.list_plans("", 10).empty());
    CHECK(observer.events.empty());
}

TEST_CASE_METHOD(admin_fixture, "the built-in plan 'default' is read-only", "[plans]") {
    const auto builtin = catalog.find_plan("default");
    REQUIRE(builtin.has_value());
    CHECK(builtin->limits == "1s:10");  // admin_fixture's default limit
    const std::string why = "the built-in plan 'default' is set by --default-limit";
    check_refused(catalog.create_plan("default", "1s:5", false), outcome::conflict, why);
    check_refused(catalog.update_plan("default", policy("1s:5"), std::nullopt), outcome::conflict,
                  why);
    check_refused(catalog.delete_plan("default"), outcome::conflict, why);
    CHECK(catalog.list_plans("", 10).empty());  // never stored
}

TEST_CASE_METHOD(admin_fixture, "a plan is not deleted while a user follows it", "[plans]") {
    REQUIRE(catalog.create_plan("free", "1s:5", false).succeeded());
    for (const char* name : {"a", "b", "c"})
        REQUIRE(catalog.create_user(name, user_terms::follow("free")).succeeded());
    CHECK(catalog.followers("free") == 3);
    check_refused(catalog.delete_plan("free"), outcome::conflict,
                  "plan 'free' is followed by 3 users; move them first");
    REQUIRE(catalog.update_user("a", user_change{user_terms::own(policy("1s:2")), {}}).succeeded());
    REQUIRE(catalog.update_user("b", user_change{user_terms::follow("default"), {}}).succeeded());
    check_refused(catalog.delete_plan("free"), outcome::conflict, "followed by 1 user;");
    REQUIRE(catalog.delete_user("c").succeeded());
    CHECK(catalog.delete_plan("free").succeeded());
}

TEST_CASE_METHOD(admin_fixture, "a user follows a plan or has own limits, never both", "[plans]") {
    REQUIRE(catalog.create_plan("pro", "1s:50,1m:1000", false).succeeded());
    auto follower = catalog.create_user("alice", user_terms::follow("pro"));
    REQUIRE(follower.status == outcome::created);
    CHECK(follower.value->plan == "pro");
    CHECK(follower.value->limits.empty());
    CHECK(catalog.effective_policy(*follower.value) == policy("1s:50,1m:1000"));

    auto own = catalog.create_user("bob", user_terms::own(policy("1m:60,1s:2")));
    REQUIRE(own.succeeded());
    CHECK(own.value->plan.empty());
    CHECK(own.value->limits == "1s:2,1m:60");
    CHECK(catalog.effective_policy(*own.value) == policy("1s:2,1m:60"));

    auto plain = catalog.create_user("carol", user_terms{});
    CHECK(plain.value->plan == "default");
    CHECK(catalog.effective_policy(*plain.value) == policy("1s:10"));

    // A plan's change reaches its followers' effective policy at once.
    REQUIRE(catalog.update_plan("pro", policy("1s:70"), std::nullopt).succeeded());
    CHECK(catalog.effective_policy(*catalog.find_user("alice")) == policy("1s:70"));

    check_refused(catalog.create_user("dave", user_terms::follow("nope")), outcome::invalid,
                  "no plan 'nope'");
    check_refused(catalog.create_user("dave", user_terms{"pro", policy("1s:5")}), outcome::invalid,
                  "not both");
    check_refused(catalog.update_user("alice", user_change{user_terms::follow("nope"), {}}),
                  outcome::invalid, "no plan 'nope'");
    CHECK(catalog.find_user("alice")->plan == "pro");
    CHECK_FALSE(catalog.find_user("dave").has_value());

    // The single-limit form is own 1s:N.
    REQUIRE(catalog.update_user("alice", 9u, std::nullopt).succeeded());
    CHECK(catalog.find_user("alice")->limits == "1s:9");
    CHECK(catalog.find_user("alice")->plan.empty());
}

TEST_CASE("one limit per second stands for a policy on the single-limit request path", "[plans]") {
    CHECK(single_limit(policy("1s:7,1m:100")) == 7);
    CHECK(single_limit(policy("10s:50,1m:600")) == 5);  // the tightest rate
    CHECK(single_limit(policy("1m:30")) == 1);          // never below 1
    CHECK(single_limit(policy("day:500,month:9000")) == 500);
    CHECK(single_limit(policy("day:5000000")) == max_limit);
    CHECK(per_second_quota(policy("1s:7,1m:100")) == 7u);
    CHECK_FALSE(per_second_quota(policy("1m:100")).has_value());
}

TEST_CASE_METHOD(admin_fixture, "a bulk import takes a plan or limits per row", "[plans]") {
    REQUIRE(catalog.create_plan("free", "1s:5", false).succeeded());
    std::vector<import_row> rows(5);
    rows[0] = {"alice", "alice-key", std::nullopt, std::nullopt, "free"};
    rows[1] = {"bob", "bob-key", std::nullopt, policy("1s:3,1m:100"), ""};
    rows[2] = {"carol", "carol-key", std::nullopt, std::nullopt, "nope"};  // no such plan
    rows[3] = {"dave", "dave-key", 4u, std::nullopt, "free"};              // both
    rows[4] = {"erin", "erin-key", std::nullopt, std::nullopt, ""};
    const auto summary = catalog.import(rows);
    CHECK(summary.users_created == 3);
    REQUIRE(summary.errors.size() == 2);
    CHECK(summary.errors[0].first == 2);
    CHECK(summary.errors[0].second.find("no plan 'nope'") != std::string::npos);
    CHECK(summary.errors[1].first == 3);
    CHECK(catalog.find_user("alice")->plan == "free");
    CHECK(catalog.find_user("bob")->limits == "1s:3,1m:100");
    CHECK(catalog.find_user("erin")->plan == "default");
    CHECK_FALSE(catalog.find_user("carol").has_value());

    // Again, with alice moved to own limits: one user updated, nothing else.
    rows = {{"alice", "alice-key", 8u, std::nullopt, ""}, {"bob", "bob-key", {}, {}, ""}};
    const auto again = catalog.import(rows);
    CHECK(again.users_created == 0);
    CHECK(again.users_updated == 1);
    CHECK(again.keys_unchanged == 2);
    CHECK(catalog.find_user("alice")->limits == "1s:8");
    CHECK(catalog.find_user("bob")->limits == "1s:3,1m:100");
}

TEST_CASE_METHOD(admin_fixture, "restored records: plans before the users who follow them",
                 "[plans]") {
    std::vector<catalog_record> records = {
        plan_record{"free", "1m:60, 1s:2", true, 100, 200},
        user_record{"alice", "free", "", false, 300},
        user_record{"bob", "", "1s:4", true, 300},
    };
    REQUIRE_FALSE(catalog.restore_records(records).has_value());
    CHECK(catalog.find_plan("free")->limits == "1s:2,1m:60");
    CHECK(catalog.find_plan("free")->shadow);
    CHECK(catalog.find_user("alice")->plan == "free");
    CHECK(std::count(observer.events.begin(), observer.events.end(), "plan free") == 1);

    // A follower of a plan neither stored nor earlier in the records is refused, all or none.
    records = {user_record{"carol", "gold", "", false, 1},
               plan_record{"gold", "1s:9", false, 1, 1}};
    const auto error = catalog.restore_records(records);
    REQUIRE(error.has_value());
    CHECK(error->index == 0);
    CHECK(error->message.find("plan 'gold'") != std::string::npos);
    CHECK_FALSE(catalog.find_plan("gold").has_value());

    records = {plan_record{"bad", "2s:0", false, 1, 1}};
    REQUIRE(catalog.restore_records(records).has_value());
    records = {plan_record{"default", "1s:1", false, 1, 1}};
    CHECK(catalog.restore_records(records)->message.find("built-in") != std::string::npos);
}

TEST_CASE_METHOD(api_fixture, "POST, GET, PATCH and DELETE /v1/plans", "[plans][admin_api]") {
    auto r = post("/v1/plans", {{"name", "free"}, {"limits", {"1s:10", "1m:300"}}});
    REQUIRE(r.status == 201);
    CHECK(fields_of(r.body) == std::set<std::string>{"name", "limits", "shadow", "builtin", "users",
                                                     "created_at", "updated_at"});
    CHECK(r.body["limits"] == json{"1s:10", "1m:300"});
    CHECK(r.body["shadow"] == false);
    CHECK(r.body["builtin"] == false);
    CHECK(r.body["users"] == 0);

    r = post("/v1/plans", {{"name", "pro"}, {"limits", "day:10000,1s:50"}, {"shadow", true}});
    REQUIRE(r.status == 201);
    CHECK(r.body["limits"] == json{"1s:50", "day:10000"});
    CHECK(r.body["shadow"] == true);

    CHECK(post("/v1/plans", {{"name", "free"}, {"limits", "1s:1"}}).status == 409);
    CHECK(post("/v1/plans", {{"name", "default"}, {"limits", "1s:1"}}).status == 409);
    for (const json& bad :
         {json{{"name", "x"}}, json{{"name", "x"}, {"limits", "2s:0"}},
          json{{"name", "x"}, {"limits", {"1s:1", "1s:2"}}},
          json{{"name", "x"}, {"limits", {1, 2}}}, json{{"name", "x"}, {"limits", 5}},
          json{{"name", "x"}, {"limits", "1s:1"}, {"shadow", "yes"}}}) {
        CAPTURE(bad.dump());
        CHECK(post("/v1/plans", bad).status == 400);
    }

    REQUIRE(post("/v1/users", {{"name", "alice"}, {"plan", "free"}}).status == 201);
    r = call("GET", "/v1/plans/free");
    REQUIRE(r.status == 200);
    CHECK(r.body["users"] == 1);
    r = call("GET", "/v1/plans/default");
    REQUIRE(r.status == 200);
    CHECK(r.body["builtin"] == true);
    CHECK(r.body["limits"] == json{"1s:10"});
    CHECK(r.body["created_at"].is_null());
    CHECK(call("GET", "/v1/plans/nope").status == 404);

    r = call("PATCH", "/v1/plans/free", R"({"limits": ["1s:20"]})");
    REQUIRE(r.status == 200);
    CHECK(r.body["limits"] == json{"1s:20"});
    CHECK(call("GET", "/v1/users/alice").body["limits"] == json{"1s:20"});
    CHECK(call("PATCH", "/v1/plans/default", R"({"limits": ["1s:20"]})").status == 409);
    CHECK(call("PATCH", "/v1/plans/nope", R"({"shadow": true})").status == 404);
    CHECK(call("PATCH", "/v1/plans/free", R"({"limits": "day:x"})").status == 400);

    r = call("DELETE", "/v1/plans/free");
    CHECK(r.status == 409);
    CHECK(r.body["detail"] == "plan 'free' is followed by 1 user; move them first");
    CHECK(call("DELETE", "/v1/plans/default").status == 409);
    CHECK(call("DELETE", "/v1/plans/nope").status == 404);
    CHECK(call("DELETE", "/v1/plans/pro").status == 200);
    CHECK(call("GET", "/v1/plans/pro").status == 404);
}

TEST_CASE_METHOD(api_fixture, "GET /v1/plans pages with the built-in default first",
                 "[plans][admin_api]") {
    // Names sorting before "default" too: the built-in one comes first all the same.
    for (const char* name : {"alpha", "basic", "zeta", "pro", "free"})
        REQUIRE(post("/v1/plans", {{"name", name}, {"limits", "1s:5"}}).status == 201);
    std::vector<std::string> seen;
    std::map<std::string, std::string> query{{"limit", "2"}};
    for (int page = 0; page < 10; ++page) {
        const auto r = call("GET", "/v1/plans", "", query);
        REQUIRE(r.status == 200);
        REQUIRE(r.body["plans"].size() <= 2);
        for (const auto& plan : r.body["plans"]) seen.push_back(plan["name"]);
        if (r.body["next_cursor"].is_null()) break;
        query["cursor"] = r.body["next_cursor"];
    }
    CHECK(seen == std::vector<std::string>{"default", "alpha", "basic", "free", "pro", "zeta"});

    const auto all = call("GET", "/v1/plans");
    REQUIRE(all.body["plans"].size() == 6);
    CHECK(all.body["plans"][0]["builtin"] == true);
    CHECK(all.body["plans"][1]["builtin"] == false);
    CHECK(all.body["next_cursor"].is_null());
    CHECK(call("GET", "/v1/plans", "", {{"cursor", "garbage!"}}).status == 400);
    CHECK(call("GET", "/v1/plans", "", {{"limit", "0"}}).status == 400);
}

TEST_CASE_METHOD(api_fixture, "users take a plan, limits or a limit, and show all three",
                 "[plans][admin_api]") {
    REQUIRE(post("/v1/plans", {{"name", "free"}, {"limits", {"1m:300", "1s:10"}}}).status == 201);

    auto r = post("/v1/users", {{"name", "a"}, {"plan", "free"}});
    REQUIRE(r.status == 201);
    CHECK(r.body["plan"] == "free");
    CHECK(r.body["limits"] == json{"1s:10", "1m:300"});
    CHECK(r.body["limit"] == 10);
    CHECK(r.body["default_limit"] == false);

    r = post("/v1/users", {{"name", "b"}, {"limits", {"1m:60"}}});
    REQUIRE(r.status == 201);
    CHECK(r.body["plan"].is_null());
    CHECK(r.body["limits"] == json{"1m:60"});
    CHECK(r.body["limit"].is_null());  // no 1s limit

    r = post("/v1/users", {{"name", "c"}, {"limits", "1s:4,day:100"}});
    CHECK(r.body["limits"] == json{"1s:4", "day:100"});
    r = post("/v1/users", {{"name", "d"}});
    CHECK(r.body["plan"] == "default");
    CHECK(r.body["default_limit"] == true);
    CHECK(r.body["limits"] == json{"1s:10"});

    for (const json& bad :
         {json{{"name", "x"}, {"plan", "nope"}},
          json{{"name", "x"}, {"plan", "free"}, {"limit", 3}},
          json{{"name", "x"}, {"plan", "free"}, {"limits", "1s:3"}},
          json{{"name", "x"}, {"limits", "1s:3,1s:4"}}, json{{"name", "x"}, {"plan", 5}}}) {
        CAPTURE(bad.dump());
        CHECK(post("/v1/users", bad).status == 400);
    }
    CHECK_FALSE(catalog.find_user("x").has_value());

    r = call("PATCH", "/v1/users/a", R"({"limits": ["1s:2", "1h:1000"]})");
    REQUIRE(r.status == 200);
    CHECK(r.body["plan"].is_null());
    CHECK(r.body["limits"] == json{"1s:2", "1h:1000"});
    r = call("PATCH", "/v1/users/a", R"({"plan": "default"})");
    CHECK(r.body["default_limit"] == true);
    CHECK(call("PATCH", "/v1/users/a", R"({"plan": "nope"})").status == 400);
}

TEST_CASE_METHOD(api_fixture, "an export holds plans before users, and imports back as it was",
                 "[plans][admin_api]") {
    REQUIRE(post("/v1/plans", {{"name", "free"}, {"limits", "1s:5,day:100"}, {"shadow", true}})
                .status == 201);
    REQUIRE(post("/v1/users", {{"name", "alice"}, {"plan", "free"}}).status == 201);
    REQUIRE(post("/v1/users", {{"name", "bob"}, {"limits", "1s:3,1m:50"}}).status == 201);
    REQUIRE(post("/v1/users", {{"name", "carol"}}).status == 201);
    make_key("alice");

    // Small pages, so the plan, user and key phases each cross a page boundary.
    json records = json::array();
    std::map<std::string, std::string> query{{"limit", "1"}};
    for (int page = 0; page < 20; ++page) {
        const auto r = call("GET", "/v1/export", "", query);
        REQUIRE(r.status == 200);
        for (const auto& record : r.body["records"]) records.push_back(record);
        if (r.body["next_cursor"].is_null()) break;
        query["cursor"] = r.body["next_cursor"];
    }
    REQUIRE(records.size() == 5);
    CHECK(records[0]["type"] == "plan");
    CHECK(records[0]["limits"] == "1s:5,day:100");
    CHECK(records[1]["type"] == "user");
    CHECK(records[1]["plan"] == "free");
    CHECK(records[2]["limits"] == "1s:3,1m:50");
    CHECK(records[3]["plan"] == "default");
    CHECK(records[4]["type"] == "key");

    rl::testing::temp_dir other_tmp;
    auto other_db = rl::storage::data_dir::open(other_tmp / "data");
    rl::admin::catalog other(*other_db, 10);
    admin_api other_api(other);
    const auto imported =
        other_api.handle({"POST", "/v1/import/records", {}, json{{"records", records}}.dump()});
    INFO(imported.body.dump());
    REQUIRE(imported.status == 200);
    const auto plan = other.find_plan("free");
    REQUIRE(plan.has_value());
    CHECK(plan->limits == "1s:5,day:100");
    CHECK(plan->shadow);
    CHECK(plan->created_at == catalog.find_plan("free")->created_at);
    CHECK(other.find_user("alice")->plan == "free");
    CHECK(other.find_user("bob")->limits == "1s:3,1m:50");
    CHECK(other.find_user("carol")->plan == "default");
    CHECK(other.list_keys(std::nullopt).value->size() == 1);

    // An export of the single-limit release (a user's `limit`, null for the default) still reads.
    const json old_records = {{{"type", "user"},
                               {"name", "dave"},
                               {"limit", 7},
                               {"disabled", false},
                               {"created_at", "2026-01-01T00:00:00Z"}},
                              {{"type", "user"},
                               {"name", "erin"},
                               {"limit", nullptr},
                               {"disabled", false},
                               {"created_at", "2026-01-01T00:00:00Z"}}};
    REQUIRE(
        other_api.handle({"POST", "/v1/import/records", {}, json{{"records", old_records}}.dump()})
            .status == 200);
    CHECK(other.find_user("dave")->limits == "1s:7");
    CHECK(other.find_user("erin")->plan == "default");
}
