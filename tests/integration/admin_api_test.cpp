// The admin listener: bearer token on everything but health, JSON in and out.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "common/data_dir_files.hpp"
#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::http_request;
using rl::testing::live_server;

TEST_CASE("admin routes need the bearer token; health does not") {
    live_server server;
    const auto base = server.process().admin_url();
    REQUIRE(http_request("GET", base + "/healthz").status == 200);
    for (const std::string path : {"/v1/users", "/v1/keys", "/metrics", "/v1/usage"}) {
        const auto none = http_request("GET", base + path);
        REQUIRE(none.status == 401);
        REQUIRE(none.header("content-type") == "application/problem+json");
        REQUIRE(
            http_request("GET", base + path, {"Authorization: Bearer wrong-token-123456"}).status ==
            401);
        REQUIRE(
            http_request("GET", base + path, {"Authorization: " + server.process().admin_token()})
                .status == 401);
    }
    REQUIRE(server.admin("GET", "/v1/users").status == 200);
}

TEST_CASE("RL_ADMIN_TOKEN replaces the generated token file") {
    const std::string token = "a-token-from-the-environment";
    live_server server({}, {"RL_ADMIN_TOKEN=" + token});
    const auto base = server.process().admin_url();
    REQUIRE(http_request("GET", base + "/v1/users", {"Authorization: Bearer " + token}).status ==
            200);
    struct stat st {};
    REQUIRE(
        ::stat(rl::common::data_dir_file(server.data_dir(), rl::common::admin_token_file).c_str(),
               &st) != 0);
}

TEST_CASE("the generated token file is 0600 and the data directory 0700") {
    live_server server;
    REQUIRE(server.process().admin_token().size() >= 32);
    struct stat st {};
    REQUIRE(
        ::stat(rl::common::data_dir_file(server.data_dir(), rl::common::admin_token_file).c_str(),
               &st) == 0);
    REQUIRE((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(server.data_dir().c_str(), &st) == 0);
    REQUIRE((st.st_mode & 0777) == 0700);
}

TEST_CASE("users and keys through the admin API") {
    live_server server;
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "alice"}, {"limit", 5}}).status == 201);
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "alice"}}).status == 409);
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "bad name"}}).status == 400);
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "x"}, {"limit", 0}}).status == 400);
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "x"}, {"limit", "ten"}}).status == 400);
    const auto broken =
        http_request("POST", server.process().admin_url() + "/v1/users",
                     {"Authorization: Bearer " + server.process().admin_token()}, "{not json");
    REQUIRE(broken.status == 400);
    REQUIRE(broken.header("content-type") == "application/problem+json");

    const auto user = server.admin("GET", "/v1/users/alice");
    REQUIRE(user.status == 200);
    REQUIRE(user.body.at("limit") == 5);
    REQUIRE(server.admin("GET", "/v1/users/nobody").status == 404);

    const auto created = server.admin("POST", "/v1/keys", {{"user", "alice"}, {"label", "ci"}});
    REQUIRE(created.status == 201);
    const std::string key = created.body.at("key");
    REQUIRE(key.rfind("rl_" + user.body.at("route").get<std::string>() + "_", 0) == 0);
    REQUIRE(created.body.at("user") == "alice");
    REQUIRE(created.body.at("key_id").get<std::string>().size() == 16);

    // The plain key is shown once: listings never contain it.
    const auto listed = server.admin("GET", "/v1/keys?user=alice");
    REQUIRE(listed.body.at("keys").size() == 1);
    REQUIRE(listed.body.dump().find(key) == std::string::npos);

    REQUIRE(server.admin("POST", "/v1/keys/import", {{"user", "alice"}, {"key", "legacy-key-0001"}})
                .status == 201);
    REQUIRE(server.admin("POST", "/v1/keys/import", {{"user", "alice"}, {"key", "legacy-key-0001"}})
                .status == 200);
    REQUIRE(server.limit("legacy-key-0001").status == 200);

    REQUIRE(server.admin("DELETE", "/v1/users/alice").status == 200);
    REQUIRE(server.limit(key).status == 401);
    REQUIRE(server.limit("legacy-key-0001").status == 401);
    REQUIRE(server.admin("GET", "/v1/users/alice").status == 404);
}

TEST_CASE("metrics are in the Prometheus text format and count decisions") {
    live_server server;
    server.create_user("m", 1);
    const std::string key = server.create_key("m");
    server.limit(key);
    server.limit(key);
    server.limit("");
    const auto r = http_request("GET", server.process().admin_url() + "/metrics",
                                {"Authorization: Bearer " + server.process().admin_token()});
    REQUIRE(r.status == 200);
    REQUIRE(r.header("content-type").rfind("text/plain", 0) == 0);
    REQUIRE(r.body.find("ratelimitd_decisions_total{outcome=\"admitted\"} 1\n") !=
            std::string::npos);
    REQUIRE(r.body.find("ratelimitd_decisions_total{outcome=\"limited\"} 1\n") !=
            std::string::npos);
    REQUIRE(r.body.find("ratelimitd_unauthorized_total{reason=\"missing_key\"} 1\n") !=
            std::string::npos);
    REQUIRE(r.body.find("ratelimitd_keys_loaded 1\n") != std::string::npos);
}
