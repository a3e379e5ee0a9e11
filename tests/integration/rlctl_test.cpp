// rlctl against a running server and, with --data-dir, directly on a data directory.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

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

// rlctl pointed at a server started by hand.
struct online_env_of {
    rl::testing::server_process& server;
    json json_of(std::vector<std::string> args) const {
        args.insert(args.begin(), "--json");
        const auto r = rlctl(
            args, {"RL_ADMIN_URL=" + server.admin_url(), "RL_ADMIN_TOKEN=" + server.admin_token()});
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

TEST_CASE("rlctl manages plans, and users follow them at once") {
    live_server server;
    online ctl{server};

    const json created =
        ctl.json_of({"plan", "create", "free", "--limit", "1s:2", "--limit", "day:1000"});
    CHECK(created.at("limits") == json{"1s:2", "day:1000"});
    CHECK(created.at("shadow") == false);
    const auto human = ctl({"plan", "show", "free"});
    REQUIRE(human.exit_code == 0);
    CHECK(human.out.find("limits   1s:2,day:1000") != std::string::npos);

    const json listed = ctl.json_of({"plan", "list"});
    REQUIRE(listed.at("plans").size() == 2);
    CHECK(listed.at("plans")[0].at("name") == "default");
    CHECK(listed.at("plans")[0].at("builtin") == true);
    CHECK(listed.at("plans")[1].at("name") == "free");

    REQUIRE(ctl({"user", "create", "alice", "--plan", "free"}).exit_code == 0);
    const std::string key = ctl.json_of({"key", "create", "alice"}).at("key");
    rl::testing::require_limit_held(server.burst(key, 5), 2);

    const json shown = ctl.json_of({"user", "show", "alice"});
    CHECK(shown.at("plan") == "free");
    CHECK(shown.at("limits") == json{"1s:2", "day:1000"});
    CHECK(shown.at("limit") == 2);
    const auto table = ctl({"user", "list"});
    CHECK(table.out.find("PLAN") != std::string::npos);
    CHECK(table.out.find("1s:2,day:1000") != std::string::npos);

    const json updated = ctl.json_of({"plan", "update", "free", "--limit", "4"});
    CHECK(updated.at("limits") == json{"1s:4"});
    CHECK(updated.at("shadow") == false);
    CHECK(updated.at("users") == 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the last burst's window
    rl::testing::require_limit_held(server.burst(key, 8), 4);
    // Shadow mode: the limits stay, a request over them passes, marked.
    const json shadowed = ctl.json_of({"plan", "update", "free", "--shadow"});
    CHECK(shadowed.at("limits") == json{"1s:4"});
    CHECK(shadowed.at("shadow") == true);
    int marked = 0;
    for (int i = 0; i < 8; ++i) {
        const auto reply = server.limit(key);
        REQUIRE(reply.status == 200);
        marked += reply.header("x-ratelimit-shadow") == "limited";
    }
    CHECK(marked >= 1);

    // Refused: deleting a followed plan, the built-in one, bad limits, an unknown plan.
    auto r = ctl({"plan", "delete", "free"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("plan 'free' is followed by 1 user; move them first") != std::string::npos);
    r = ctl({"plan", "update", "default", "--limit", "5"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("the built-in plan 'default' is set by --default-limit") != std::string::npos);
    r = ctl({"plan", "create", "bad", "--limit", "2s:0"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("quota") != std::string::npos);
    r = ctl({"plan", "create", "bad", "--limit", "1m:5", "--limit", "1m:6"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("two limits on the window 1m") != std::string::npos);
    CHECK(ctl({"user", "create", "bob", "--plan", "nope"}).exit_code == 1);
    CHECK(ctl({"user", "create", "bob", "--plan", "free", "--limit", "3"}).exit_code == 2);
    CHECK(ctl({"plan", "show", "bad"}).exit_code == 1);

    // Own limits, repeatable; then the plan has no followers and goes.
    const json own = ctl.json_of({"user", "update", "alice", "--limit", "3", "--limit", "1m:100"});
    CHECK(own.at("plan").is_null());
    CHECK(own.at("limits") == json{"1s:3", "1m:100"});
    REQUIRE(ctl({"plan", "delete", "free"}).exit_code == 0);
    CHECK(ctl.json_of({"plan", "list"}).at("plans").size() == 1);
}

TEST_CASE("rlctl import reads a plan column") {
    live_server server;
    online ctl{server};
    REQUIRE(ctl({"plan", "create", "pro", "--limit", "1s:50"}).exit_code == 0);
    rl::testing::temp_dir dir;
    const std::string csv = dir / "users.csv";
    std::ofstream(csv) << "user,key,limit,plan\n"
                          "alice,alice-key-0001,,pro\n"
                          "bob,bob-key-0001,1s:2;1m:30\n"
                          "carol,carol-key-0001,5\n";
    const auto r = ctl({"import", csv});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(ctl.json_of({"user", "show", "alice"}).at("plan") == "pro");
    CHECK(ctl.json_of({"user", "show", "bob"}).at("limits") == json{"1s:2", "1m:30"});
    CHECK(ctl.json_of({"user", "show", "carol"}).at("limits") == json{"1s:5"});
    CHECK(server.limit("alice-key-0001").status == 200);

    std::ofstream(csv) << "dave,dave-key-0001,,nope\n";
    const auto refused = ctl({"import", csv});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("no plan 'nope'") != std::string::npos);
}

// The data directory the schema-1 release wrote (tests/fixtures/schema-v1/README.md), started
// by this build: every user, key and limit is there, as plans and limits, and usage is kept.
TEST_CASE("a schema-1 data directory starts upgraded, with every user, key, limit and usage") {
    const std::string fixture = std::string(RL_SOURCE_DIR) + "/tests/fixtures/schema-v1";
    std::ifstream in(fixture + "/expected.json");
    REQUIRE(in);
    const json expected = json::parse(in);
    rl::testing::temp_dir dir;
    const std::string data = dir / "data";
    REQUIRE(std::system(("mkdir -p '" + data + "' && tar -xzf '" + fixture +
                         "/schema-v1-data.tar.gz' -C '" + data + "'")
                            .c_str()) == 0);
    const std::string default_limit = std::to_string(expected.at("default_limit").get<int>());

    // Usage first, offline: the server's upkeep may expire old buckets once it runs.
    const auto usage = rlctl({"--data-dir", data, "--json", "usage", "--since",
                              expected.at("usage_by_minute")[0].at("start"), "--step", "1m"});
    INFO("usage stderr: " << usage.err);
    REQUIRE(usage.exit_code == 0);
    const json report = json::parse(usage.out);
    CHECK(report.at("total").at("allowed") == expected.at("usage_total").at("allowed"));
    CHECK(report.at("total").at("rejected") == expected.at("usage_total").at("rejected"));

    rl::testing::server_process server(data, {"--default-limit", default_limit});
    online_env_of env{server};
    const json users = env.json_of({"user", "list"}).at("users");
    REQUIRE(users.size() == expected.at("users").size());
    for (const auto& user : users) {
        const std::string name = user.at("name");
        CAPTURE(name);
        const json& want = expected.at("users").at(name);
        CHECK(user.at("disabled") == want.at("disabled"));
        if (want.at("limit").is_null()) {
            CHECK(user.at("plan") == "default");
            CHECK(user.at("default_limit") == true);
            CHECK(user.at("limits") == json{"1s:" + default_limit});
        } else {
            CHECK(user.at("plan").is_null());
            CHECK(user.at("limit") == want.at("limit"));
            CHECK(user.at("limits") == json{"1s:" + std::to_string(want.at("limit").get<int>())});
        }
    }
    const json keys = env.json_of({"key", "list"}).at("keys");
    REQUIRE(keys.size() == expected.at("keys").size());
    for (const auto& key : keys) {
        const std::string id = key.at("key_id");
        CAPTURE(id);
        REQUIRE(expected.at("keys").contains(id));
        CHECK(key.at("user") == expected.at("keys").at(id).at("user"));
        CHECK(key.at("label") == expected.at("keys").at(id).at("label"));
    }
    // Every key still answers as its user's terms say.
    for (const auto& [id, want] : expected.at("keys").items()) {
        CAPTURE(id);
        const auto r =
            rl::testing::http_request("GET", server.public_url() + "/limit",
                                      {"X-API-KEY: " + want.at("key").get<std::string>()});
        const bool disabled =
            expected.at("users").at(want.at("user").get<std::string>()).at("disabled");
        CHECK(r.status == (disabled ? 403 : 200));
    }
    REQUIRE(server.stop() == 0);

    // Opened again: nothing left to upgrade, the same catalog.
    const auto again = rlctl({"--data-dir", data, "--json", "user", "list"});
    REQUIRE(again.exit_code == 0);
    CHECK(json::parse(again.out).at("users").size() == users.size());
    const auto backup = rlctl({"--data-dir", data, "--json", "backup", dir / "copy"});
    INFO(backup.err);
    REQUIRE(backup.exit_code == 0);
    CHECK(json::parse(backup.out).at("schema_version") == 2);
}
