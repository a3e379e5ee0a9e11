// rlctl against a running server and, with --data-dir, directly on a data directory.

#include <catch2/catch.hpp>

#include <fstream>

#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::command_result;
using rl::testing::live_server;
using rl::testing::run_command;

namespace {

command_result rlctl(const std::vector<std::string>& args,
                     const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {rl::testing::rlctl_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, env);
}

// rlctl pointed at a live server through the environment, as a script would use it.
struct online {
    live_server& server;
    command_result operator()(std::vector<std::string> args) const {
        return rlctl(args, {"RL_ADMIN_URL=" + server.process().admin_url(),
                            "RL_ADMIN_TOKEN=" + server.process().admin_token()});
    }
    json json_of(std::vector<std::string> args) const {
        args.insert(args.begin(), "--json");
        const auto r = (*this)(args);
        INFO("stderr: " << r.err);
        REQUIRE(r.exit_code == 0);
        return json::parse(r.out);
    }
};

}  // namespace

TEST_CASE("rlctl provisions users and keys on a running server") {
    live_server server;
    online ctl{server};

    REQUIRE(ctl({"user", "create", "alice", "--limit", "3"}).exit_code == 0);
    const json created = ctl.json_of({"key", "create", "alice", "--label", "laptop"});
    const std::string key = created.at("key");
    REQUIRE(created.at("user") == "alice");
    REQUIRE(created.at("key_id").get<std::string>().size() == 16);
    REQUIRE(server.limit(key).status == 200);

    const json users = ctl.json_of({"user", "list"});
    REQUIRE(users.at("users").size() == 1);
    REQUIRE(ctl.json_of({"user", "show", "alice"}).at("limit") == 3);

    const auto table = ctl({"key", "list", "alice"});
    REQUIRE(table.exit_code == 0);
    REQUIRE(table.out.find(created.at("key_id").get<std::string>()) != std::string::npos);
    REQUIRE(table.out.find(key) == std::string::npos);

    REQUIRE(ctl({"user", "update", "alice", "--disable"}).exit_code == 0);
    REQUIRE(server.limit(key).status == 403);
    REQUIRE(ctl({"user", "update", "alice", "--enable", "--limit", "4"}).exit_code == 0);
    REQUIRE(server.limit(key).status == 200);

    REQUIRE(ctl({"key", "import", "alice", "--key", "legacy-0001"}).exit_code == 0);
    REQUIRE(server.limit("legacy-0001").status == 200);

    REQUIRE(ctl({"key", "revoke", created.at("key_id")}).exit_code == 0);
    REQUIRE(server.limit(key).status == 401);

    REQUIRE(ctl({"user", "delete", "alice"}).exit_code == 0);
    REQUIRE(server.limit("legacy-0001").status == 401);
}

TEST_CASE("rlctl exit codes: 2 for bad usage, 1 for failures, with a message on stderr") {
    live_server server;
    online ctl{server};
    REQUIRE(ctl({}).exit_code == 2);
    REQUIRE(ctl({"user", "frobnicate"}).exit_code == 2);
    REQUIRE(ctl({"user", "create"}).exit_code == 2);
    REQUIRE(ctl({"user", "create", "x", "--limit", "abc"}).exit_code == 2);
    const auto missing = ctl({"user", "show", "nobody"});
    REQUIRE(missing.exit_code == 1);
    REQUIRE_FALSE(missing.err.empty());
    REQUIRE(ctl({"key", "create", "nobody"}).exit_code == 1);
    REQUIRE(ctl({"user", "create", "bad name"}).exit_code == 1);

    const auto unreachable =
        rlctl({"--server", "http://127.0.0.1:1", "--token", "x", "user", "list"});
    REQUIRE(unreachable.exit_code == 1);
    REQUIRE(unreachable.err.find("127.0.0.1:1") != std::string::npos);
    const auto bad_token = rlctl({"--server", server.process().admin_url(), "--token",
                                  "wrong-token-123456", "user", "list"});
    REQUIRE(bad_token.exit_code == 1);
    REQUIRE(bad_token.err.find("wrong-token") == std::string::npos);
}

TEST_CASE("rlctl import is idempotent and the keys work at once") {
    live_server server;
    online ctl{server};
    const std::string csv = server.dir() / "keys.csv";
    {
        std::ofstream out(csv);
        out << "# user,key,limit\n";
        for (int i = 0; i < 300; ++i)
            out << "user" << i % 100 << ",imported-key-" << i << (i < 100 ? ",2" : "") << "\n";
    }
    REQUIRE(ctl({"import", csv}).exit_code == 0);
    REQUIRE(ctl({"import", csv}).exit_code == 0);  // again: nothing changes
    REQUIRE(ctl.json_of({"user", "list"}).at("users").size() == 100);
    REQUIRE(ctl.json_of({"key", "list"}).at("keys").size() == 300);
    REQUIRE(ctl.json_of({"user", "show", "user7"}).at("limit") == 2);
    // user7 owns imported-key-7, -107 and -207; together they get 2 requests.
    REQUIRE(server.limit("imported-key-7").status == 200);
    REQUIRE(server.limit("imported-key-107").status == 200);
    REQUIRE(server.limit("imported-key-207").status == 429);
}

TEST_CASE("rlctl usage reports what was admitted and rejected") {
    live_server server;
    online ctl{server};
    server.create_user("u", 4);
    const std::string key = server.create_key("u");
    for (int i = 0; i < 6; ++i) server.limit(key);
    const json usage = ctl.json_of({"usage", "--user", "u", "--since", "5m", "--step", "1s"});
    REQUIRE(usage.at("total").at("allowed") == 4);
    REQUIRE(usage.at("total").at("rejected") == 2);
    long allowed = 0;
    for (const auto& bucket : usage.at("buckets")) {
        REQUIRE(bucket.at("start").is_string());
        allowed += bucket.at("allowed").get<long>();
    }
    REQUIRE(allowed == 4);
    const std::string key_id =
        server.admin("GET", "/v1/keys?user=u").body.at("keys")[0].at("key_id");
    REQUIRE(ctl.json_of({"usage", "--key", key_id, "--since", "5m"}).at("total").at("allowed") ==
            4);
}

TEST_CASE("rlctl --data-dir works offline, and through the server once one holds the directory") {
    rl::testing::temp_dir dir;
    const std::string data = dir / "data";
    REQUIRE(rlctl({"--data-dir", data, "user", "create", "offline", "--limit", "2"}).exit_code ==
            0);
    const auto created = rlctl({"--data-dir", data, "--json", "key", "create", "offline"});
    REQUIRE(created.exit_code == 0);
    const std::string key = json::parse(created.out).at("key");

    rl::testing::server_process server(data);
    REQUIRE(rl::testing::http_request("GET", server.public_url() + "/limit", {"X-API-KEY: " + key})
                .status == 200);
    // The server holds the directory now: rlctl finds it through admin.url and admin.token.
    const auto listed = rlctl({"--data-dir", data, "--json", "user", "list"});
    INFO("stderr: " << listed.err);
    REQUIRE(listed.exit_code == 0);
    REQUIRE(json::parse(listed.out).at("users").size() == 1);
    REQUIRE(rlctl({"--data-dir", data, "user", "update", "offline", "--disable"}).exit_code == 0);
    REQUIRE(rl::testing::http_request("GET", server.public_url() + "/limit", {"X-API-KEY: " + key})
                .status == 403);
}
