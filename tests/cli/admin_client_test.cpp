#include "cli/admin_client.hpp"

#include <catch2/catch.hpp>

#include <fstream>

#include "common/data_dir_files.hpp"
#include "storage/data_dir.hpp"
#include "tests/support/temp_dir.hpp"

using nlohmann::json;
using rl::cli::cli_error;
using rl::cli::connect;
using rl::cli::local_admin_client;
using rl::cli::parse_target;
using rl::common::url_encode;

TEST_CASE("parse_target decodes the path and the query like the admin listener") {
    const auto request = parse_target("GET", "/v1/users/a%20b?user=x%2By&since=1h&&flag&s=a+b");
    CHECK(request.method == "GET");
    CHECK(request.path == "/v1/users/a b");
    CHECK(request.query.at("user") == "x+y");
    CHECK(request.query.at("since") == "1h");
    CHECK(request.query.at("flag").empty());
    CHECK(request.query.at("s") == "a b");
    CHECK(request.query.size() == 4);
    CHECK_THROWS_AS(parse_target("GET", "/v1/users/%G1"), cli_error);
    CHECK_THROWS_AS(parse_target("GET", "/v1/usage?user=%4"), cli_error);
}

TEST_CASE("the local client runs the admin API on a data directory") {
    rl::testing::temp_dir dir;
    local_admin_client client(dir.path(), 10);

    auto created = client.call("POST", "/v1/users", json{{"name", "alice"}, {"limit", 5}});
    CHECK(created.status == 201);
    CHECK(created.body.at("limit") == 5);

    auto shown = client.call("GET", "/v1/users/" + url_encode("alice"), nullptr);
    CHECK(shown.status == 200);
    CHECK(shown.body.at("name") == "alice");

    auto key = client.call("POST", "/v1/keys", json{{"user", "alice"}, {"label", "ci"}});
    REQUIRE(key.status == 201);
    CHECK(key.body.at("key").get<std::string>().rfind("rl_", 0) == 0);

    auto keys = client.call("GET", "/v1/keys?user=alice", nullptr);
    CHECK(keys.status == 200);
    CHECK(keys.body.at("keys").size() == 1);

    auto missing = client.call("GET", "/v1/users/nobody", nullptr);
    CHECK(missing.status == 404);
    CHECK(missing.body.at("detail") == "no user 'nobody'");
}

TEST_CASE("connect works offline on a free data directory") {
    rl::testing::temp_dir dir;
    auto client = connect({std::nullopt, std::nullopt, dir.path()});
    CHECK(dynamic_cast<local_admin_client*>(client.get()) != nullptr);
    CHECK(client->call("GET", "/v1/users", nullptr).status == 200);
}

TEST_CASE("connect goes to the server named in admin.url when a server holds the directory") {
    rl::testing::temp_dir dir;
    const auto holder = rl::storage::data_dir::open(dir.path());  // stands in for ratelimitd
    std::ofstream(rl::common::data_dir_file(dir.path(), rl::common::admin_url_file))
        << "http://127.0.0.1:1\n";
    std::ofstream(rl::common::data_dir_file(dir.path(), rl::common::admin_token_file))
        << "0123456789abcdef0123\n";

    auto client = connect({std::nullopt, std::nullopt, dir.path()});
    CHECK(dynamic_cast<local_admin_client*>(client.get()) == nullptr);
    try {
        client->call("GET", "/v1/users", nullptr);
        FAIL("nothing listens on port 1");
    } catch (const cli_error& e) {
        CHECK(std::string(e.what()).rfind("cannot reach ratelimitd at http://127.0.0.1:1: ", 0) ==
              0);
        CHECK(std::string(e.what()).find("0123456789abcdef0123") == std::string::npos);
    }
}
