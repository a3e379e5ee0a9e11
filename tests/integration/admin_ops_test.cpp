// The admin listener for operations: the read-only token, the audit log, and rlctl paging
// through long lists.

#include <catch2/catch.hpp>

#include <stdio.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "common/data_dir_files.hpp"
#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::http_request;
using rl::testing::live_server;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string readonly_token(live_server& server) {
    std::string token = read_file(
        rl::common::data_dir_file(server.data_dir(), rl::common::admin_readonly_token_file));
    while (!token.empty() && token.back() == '\n') token.pop_back();
    return token;
}

rl::testing::http_response call(live_server& server, const std::string& method,
                                const std::string& path, const std::string& token,
                                const json& body = nullptr) {
    return http_request(method, server.process().admin_url() + path,
                        {"Authorization: Bearer " + token, "Content-Type: application/json"},
                        body.is_null() ? std::string() : body.dump());
}

// Users `prefix` + 10000..10000+n-1, each with one key, in one bulk import.
void import_users(live_server& server, const std::string& prefix, int n) {
    json rows = json::array();
    for (int i = 0; i < n; ++i)
        rows.push_back({{"user", prefix + std::to_string(10000 + i)},
                        {"key", prefix + "-key-" + std::to_string(i) + "-0123456789"}});
    REQUIRE(server.admin("POST", "/v1/import", {{"rows", rows}}).status == 200);
}

}  // namespace

TEST_CASE("the read-only token reads GET routes and /metrics and is refused every change") {
    live_server server;
    server.create_user("alice");
    const std::string key_id =
        server.admin("POST", "/v1/keys", {{"user", "alice"}}).body.at("key_id");
    const std::string token = readonly_token(server);
    REQUIRE(token.size() >= 32);
    REQUIRE(token != server.process().admin_token());
    struct stat st {};
    REQUIRE(
        ::stat(rl::common::data_dir_file(server.data_dir(), rl::common::admin_readonly_token_file)
                   .c_str(),
               &st) == 0);
    REQUIRE((st.st_mode & 0777) == 0600);

    for (const std::string& path :
         std::vector<std::string>{"/v1/users", "/v1/users/alice", "/v1/keys", "/v1/keys/" + key_id,
                                  "/v1/usage", "/v1/usage/top", "/v1/plans", "/v1/plans/default"})
        CHECK(call(server, "GET", path, token).status == 200);
    const auto metrics = call(server, "GET", "/metrics", token);
    CHECK(metrics.status == 200);
    CHECK(metrics.body.find("ratelimitd_") != std::string::npos);
    CHECK(http_request("GET", server.process().admin_url() + "/healthz").status == 200);

    const std::vector<std::tuple<std::string, std::string, json>> changes = {
        {"POST", "/v1/users", {{"name", "bob"}}},
        {"PATCH", "/v1/users/alice", {{"limit", 3}}},
        {"DELETE", "/v1/users/alice", nullptr},
        {"POST", "/v1/keys", {{"user", "alice"}}},
        {"POST", "/v1/keys/" + key_id + "/revoke", nullptr},
        {"POST", "/v1/import", {{"rows", json::array()}}},
        {"POST", "/v1/nothing-here", nullptr}};
    for (const auto& [method, path, body] : changes) {
        const auto r = call(server, method, path, token, body);
        INFO(method << " " << path << " " << r.body);
        CHECK(r.status == 403);
        CHECK(r.header("content-type") == "application/problem+json");
        CHECK(json::parse(r.body).at("type") == "urn:ratelimitd:problem:read-only-token");
    }
    // Nothing changed; the full token still changes things.
    CHECK(server.admin("GET", "/v1/users/alice").body.at("limit") == 10);
    CHECK(server.admin("GET", "/v1/keys/" + key_id).body.at("status") == "active");
    CHECK(server.admin("PATCH", "/v1/users/alice", {{"limit", 3}}).status == 200);
    CHECK(call(server, "GET", "/v1/users", token + "x").status == 401);
}

TEST_CASE("RL_ADMIN_READONLY_TOKEN replaces the generated read-only token file") {
    const std::string token = "a-read-only-token-from-the-environment";
    live_server server({}, {"RL_ADMIN_READONLY_TOKEN=" + token});
    CHECK(call(server, "GET", "/v1/users", token).status == 200);
    CHECK(call(server, "POST", "/v1/users", token, {{"name", "bob"}}).status == 403);
    struct stat st {};
    CHECK(::stat(rl::common::data_dir_file(server.data_dir(), rl::common::admin_readonly_token_file)
                     .c_str(),
                 &st) != 0);
}

TEST_CASE("the audit log has a line per admin change with before and after, never a key") {
    rl::testing::temp_dir logs;
    const std::string path = logs / "audit.jsonl";
    live_server server({"--audit-log", path});
    std::vector<std::string> plain_keys;

    server.create_user("alice");
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "alice"}}).status == 409);
    REQUIRE(server.admin("PATCH", "/v1/users/alice", {{"limit", 7}}).status == 200);
    const auto created = server.admin("POST", "/v1/keys", {{"user", "alice"}, {"label", "l"}});
    REQUIRE(created.status == 201);
    plain_keys.push_back(created.body.at("key"));
    const std::string key_id = created.body.at("key_id");
    plain_keys.push_back("an-imported-key-0123456789");
    REQUIRE(server.admin("POST", "/v1/keys/import", {{"user", "alice"}, {"key", plain_keys.back()}})
                .status == 201);
    plain_keys.push_back("a-bulk-imported-key-0123456789");
    REQUIRE(
        server
            .admin("POST", "/v1/import",
                   {{"rows", json::array({json{{"user", "carol"}, {"key", plain_keys.back()}}})}})
            .status == 200);
    REQUIRE(server.admin("POST", "/v1/keys/" + key_id + "/revoke").status == 200);
    REQUIRE(server.admin("DELETE", "/v1/users/alice").status == 200);
    REQUIRE(server.admin("GET", "/v1/users").status == 200);  // a read: no line
    REQUIRE(call(server, "DELETE", "/v1/users/carol", readonly_token(server)).status == 403);
    REQUIRE(server.admin("POST", "/v1/plans", {{"name", "free"}, {"limits", "1s:5"}}).status ==
            201);
    REQUIRE(server.admin("PATCH", "/v1/plans/free", {{"limits", {"1s:6", "day:100"}}}).status ==
            200);
    REQUIRE(server.admin("DELETE", "/v1/plans/free").status == 200);
    REQUIRE(server.stop() == 0);  // the log is complete once the server has stopped

    const std::string text = read_file(path);
    for (const auto& key : plain_keys) CHECK(text.find(key) == std::string::npos);
    std::vector<json> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    REQUIRE(lines.size() == 12);
    for (const auto& line : lines) {
        INFO(line.dump());
        CHECK(line.at("remote").get<std::string>().rfind("127.0.0.1:", 0) == 0);
        const std::string time = line.at("time");
        CHECK(time.size() == 24);  // 2026-11-27T21:30:00.123Z
        CHECK(time.back() == 'Z');
        CHECK(time[19] == '.');
    }
    const auto check_line = [&](std::size_t i, const char* method, const std::string& route,
                                int status, const char* token = "full") {
        INFO(lines[i].dump());
        CHECK(lines[i].at("method") == method);
        CHECK(lines[i].at("path") == route);
        CHECK(lines[i].at("status") == status);
        CHECK(lines[i].at("token") == token);
    };
    check_line(0, "POST", "/v1/users", 201);
    CHECK(lines[0].at("before").is_null());
    CHECK(lines[0].at("after").at("name") == "alice");
    check_line(1, "POST", "/v1/users", 409);
    CHECK(lines[1].at("before").at("name") == "alice");
    CHECK(lines[1].at("after").is_null());
    check_line(2, "PATCH", "/v1/users/alice", 200);
    CHECK(lines[2].at("before").at("limit") == 10);
    CHECK(lines[2].at("after").at("limit") == 7);
    check_line(3, "POST", "/v1/keys", 201);
    CHECK(lines[3].at("before").is_null());
    CHECK(lines[3].at("after").at("key_id") == key_id);
    CHECK_FALSE(lines[3].at("after").contains("key"));
    check_line(4, "POST", "/v1/keys/import", 201);
    CHECK(lines[4].at("after").at("key_id").get<std::string>().size() == 16);
    check_line(5, "POST", "/v1/import", 200);
    CHECK(lines[5].at("after").at("keys_imported") == 1);
    check_line(6, "POST", "/v1/keys/" + key_id + "/revoke", 200);
    CHECK(lines[6].at("before").at("status") == "active");
    CHECK(lines[6].at("after").at("status") == "revoked");
    check_line(7, "DELETE", "/v1/users/alice", 200);
    CHECK(lines[7].at("before").at("name") == "alice");
    CHECK(lines[7].at("after").is_null());
    check_line(8, "DELETE", "/v1/users/carol", 403, "read-only");
    check_line(9, "POST", "/v1/plans", 201);
    CHECK(lines[9].at("before").is_null());
    CHECK(lines[9].at("after").at("limits") == json{"1s:5"});
    check_line(10, "PATCH", "/v1/plans/free", 200);
    CHECK(lines[10].at("before").at("limits") == json{"1s:5"});
    CHECK(lines[10].at("after").at("limits") == json{"1s:6", "day:100"});
    check_line(11, "DELETE", "/v1/plans/free", 200);
    CHECK(lines[11].at("before").at("name") == "free");
    CHECK(lines[11].at("after").is_null());
}

TEST_CASE("list routes page over HTTP and refuse a bad cursor") {
    live_server server;
    import_users(server, "user", 250);
    std::vector<std::string> names;
    std::string cursor;
    for (int pages = 0;; ++pages) {
        REQUIRE(pages < 10);
        const auto page = server.admin(
            "GET", "/v1/users?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(page.status == 200);
        for (const auto& user : page.body.at("users")) names.push_back(user.at("name"));
        if (page.body.at("next_cursor").is_null()) break;
        cursor = page.body.at("next_cursor");
    }
    REQUIRE(names.size() == 250);
    REQUIRE(std::set<std::string>(names.begin(), names.end()).size() == 250);
    const auto bad = server.admin("GET", "/v1/users?cursor=%21%21");
    CHECK(bad.status == 400);
    CHECK(server.admin("GET", "/v1/keys?limit=0").status == 400);
}

TEST_CASE("rlctl user list prints the first page before it fetches the last") {
    live_server server;
    import_users(server, "stream", 5000);

    // rlctl writes into a pipe nobody reads yet, so it stalls once the pipe is full, long
    // before the last page; a user created then, after the first line arrived, sorts last and
    // must still be listed.
    const std::string command = "RL_ADMIN_URL='" + server.process().admin_url() +
                                "' RL_ADMIN_TOKEN='" + server.process().admin_token() + "' '" +
                                rl::testing::rlctl_path() + "' user list --page-size 50";
    FILE* out = ::popen(command.c_str(), "r");
    REQUIRE(out != nullptr);
    char line[512];
    REQUIRE(std::fgets(line, sizeof line, out) != nullptr);
    CHECK(std::string(line).rfind("NAME", 0) == 0);
    server.create_user("zzz-created-while-listing");
    std::size_t count = 0, headers = 1;
    std::string last;
    while (std::fgets(line, sizeof line, out)) {
        last = line;
        if (last.rfind("NAME", 0) == 0) ++headers;
        ++count;
    }
    CHECK(::pclose(out) == 0);
    CHECK(headers == 1);
    CHECK(count == 5001);
    CHECK(last.rfind("zzz-created-while-listing ", 0) == 0);

    // Scripts get one document with every user.
    const auto listed = rl::testing::run_command(
        {rl::testing::rlctl_path(), "--json", "user", "list", "--page-size", "777"},
        {"RL_ADMIN_URL=" + server.process().admin_url(),
         "RL_ADMIN_TOKEN=" + server.process().admin_token()});
    REQUIRE(listed.exit_code == 0);
    const json document = json::parse(listed.out);
    CHECK(document.at("users").size() == 5001);
    CHECK(document.at("next_cursor").is_null());
}
