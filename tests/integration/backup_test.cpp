// rlctl backup, restore, export and import with the real binaries: an online backup under load
// restored and served, a catalog round trip, and refused input that loses nothing.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::command_result;
using rl::testing::http_request;
using rl::testing::live_server;
using rl::testing::run_command;
using rl::testing::server_process;
using rl::testing::temp_dir;

namespace {

command_result rlctl(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), rl::testing::rlctl_path());
    return run_command(args, env);
}

std::vector<std::string> online_env(server_process& p) {
    return {"RL_ADMIN_URL=" + p.admin_url(), "RL_ADMIN_TOKEN=" + p.admin_token()};
}

json admin_get(server_process& p, const std::string& path) {
    const auto r =
        http_request("GET", p.admin_url() + path, {"Authorization: Bearer " + p.admin_token()});
    REQUIRE(r.status == 200);
    return json::parse(r.body);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> sorted_lines(const std::string& path) {
    std::vector<std::string> lines;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("an online backup under load restores into a server that admits every earlier key") {
    live_server server;
    struct provisioned {
        std::string user, key;
        int limit;
    };
    std::vector<provisioned> before;
    for (int i = 0; i < 6; ++i) {
        const std::string user = "user" + std::to_string(i);
        server.create_user(user, 40 + i);
        before.push_back({user, server.create_key(user), 40 + i});
    }
    int admitted_before = 0;
    for (int i = 0; i < 15; ++i) admitted_before += server.limit(before[0].key).status == 200;
    REQUIRE(admitted_before == 15);

    std::atomic<bool> stop{false};
    std::atomic<int> calls{0}, keys_created{0}, admin_refused{0};
    std::thread client([&] {
        while (!stop) {
            server.limit(before[1].key);
            ++calls;
        }
    });
    // Not create_key(): a reply that is slow to come (status 0, the client gave up) is no
    // failure of the backup, but any answer other than 201 is.
    std::thread admin([&] {
        while (!stop) {
            const auto r = server.admin("POST", "/v1/keys", {{"user", before[2].user}});
            if (r.status == 201)
                ++keys_created;
            else if (r.status != 0)
                ++admin_refused;
        }
    });
    temp_dir scratch;
    const std::string copy = scratch / "backup";
    const auto backed_up = rlctl({"backup", copy}, online_env(server.process()));
    stop = true;
    client.join();
    admin.join();
    INFO("stderr: " << backed_up.err);
    REQUIRE(backed_up.exit_code == 0);
    CHECK(calls > 0);
    CHECK(keys_created > 0);
    CHECK(admin_refused == 0);
    REQUIRE(std::filesystem::exists(copy + "/ratelimitd-backup"));
    server.stop();

    const std::string restored = scratch / "restored";
    const auto r = rlctl({"restore", copy, "--data-dir", restored});
    INFO("restore stderr: " << r.err);
    REQUIRE(r.exit_code == 0);

    server_process again(restored);
    // The restored usage includes the load's last second, which may still deny its key.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    for (const auto& p : before) {
        const auto reply =
            http_request("GET", again.public_url() + "/limit", {"X-API-KEY: " + p.key});
        REQUIRE(reply.status == 200);
        CHECK(reply.header("ratelimit-policy").find("q=" + std::to_string(p.limit)) !=
              std::string::npos);
    }
    const json usage = admin_get(again, "/v1/usage?user=user0&since=1h");
    CHECK(usage.at("total").at("allowed").get<int>() >= admitted_before);
}

TEST_CASE("export, import into an empty data directory and export again give the same catalog") {
    live_server server;
    server.create_user("alice", 5);
    server.create_user("bob");
    server.create_key("alice");
    server.create_key("alice", "30d");
    const std::string bob_key = server.create_key("bob");
    const json bob_keys = server.admin("GET", "/v1/keys?user=bob").body;
    const std::string bob_id = bob_keys.at("keys").at(0).at("key_id");
    REQUIRE(server.admin("POST", "/v1/keys/" + bob_id + "/revoke").status == 200);
    REQUIRE(server.admin("PATCH", "/v1/users/bob", json{{"disabled", true}}).status == 200);
    REQUIRE(server
                .admin("POST", "/v1/plans",
                       json{{"name", "free"}, {"limits", "1s:3,day:500"}, {"shadow", true}})
                .status == 201);
    REQUIRE(server.admin("POST", "/v1/users", json{{"name", "carol"}, {"plan", "free"}}).status ==
            201);

    temp_dir scratch;
    const std::string first = scratch / "first.jsonl", second = scratch / "second.jsonl";
    const auto out = rlctl({"export", "--output", first}, online_env(server.process()));
    INFO("export stderr: " << out.err);
    REQUIRE(out.exit_code == 0);
    const auto text = read_file(first);
    CHECK(text.find(bob_key) == std::string::npos);  // never a secret
    CHECK(sorted_lines(first).size() == 7);
    CHECK(text.find(R"("type":"plan")") < text.find(R"("type":"user")"));  // plans first

    const std::string empty = scratch / "empty";
    const auto in = rlctl({"--data-dir", empty, "import", first});
    INFO("import stderr: " << in.err);
    REQUIRE(in.exit_code == 0);
    // Importing the same file again changes nothing.
    REQUIRE(rlctl({"--data-dir", empty, "import", first}).exit_code == 0);
    REQUIRE(rlctl({"--data-dir", empty, "export", "-o", second}).exit_code == 0);
    CHECK(sorted_lines(first) == sorted_lines(second));
    const auto carol = rlctl({"--data-dir", empty, "--json", "user", "show", "carol"});
    REQUIRE(carol.exit_code == 0);
    CHECK(json::parse(carol.out).at("plan") == "free");
    const auto plan = rlctl({"--data-dir", empty, "--json", "plan", "show", "free"});
    REQUIRE(plan.exit_code == 0);
    CHECK(json::parse(plan.out).at("limits") == json{"1s:3", "day:500"});
    CHECK(json::parse(plan.out).at("shadow") == true);

    SECTION("bad input stops at its line and loses nothing") {
        const std::string good_user =
            R"({"type":"user","name":"newbie","limit":null,"disabled":false,"created_at":"2026-01-01T00:00:00Z"})";
        struct bad_case {
            std::string text;
            std::string line;
        };
        const std::vector<bad_case> cases = {
            {good_user + "\n" + good_user.substr(0, 30) + "\n", ":2:"},
            {"\n" + good_user + "\n{\"type\":\"plan-ish\"}\n", ":3:"},
            {good_user + "\n" + R"({"type":"key","key_id":"00000000000000aa","sha256":")" +
                 std::string(64, 'a') +
                 R"(","user":"ghost","label":"","created_at":"2026-01-01T00:00:00Z"})" + "\n",
             ":2:"},
        };
        for (const auto& c : cases) {
            const std::string bad = scratch / "bad.jsonl";
            write_file(bad, c.text);
            const auto refused = rlctl({"--data-dir", empty, "import", bad});
            INFO(refused.err);
            CHECK(refused.exit_code == 1);
            CHECK(refused.err.find("bad.jsonl" + c.line) != std::string::npos);
            REQUIRE(rlctl({"--data-dir", empty, "export", "-o", second}).exit_code == 0);
            CHECK(sorted_lines(first) == sorted_lines(second));  // newbie not half-imported
        }
    }
}

TEST_CASE("restore refuses a data directory that is not empty and leaves it as it was") {
    temp_dir scratch;
    const std::string data = scratch / "data", copy = scratch / "copy", target = scratch / "busy";
    REQUIRE(rlctl({"--data-dir", data, "user", "create", "alice"}).exit_code == 0);
    REQUIRE(rlctl({"--data-dir", data, "backup", copy}).exit_code == 0);
    // A backup path that exists is refused too.
    CHECK(rlctl({"--data-dir", data, "backup", copy}).exit_code == 1);

    std::filesystem::create_directories(target);
    write_file(target + "/keep", "precious");
    const auto r = rlctl({"restore", copy, "--data-dir", target});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("not empty") != std::string::npos);
    CHECK(read_file(target + "/keep") == "precious");
    CHECK(std::distance(std::filesystem::directory_iterator(target),
                        std::filesystem::directory_iterator()) == 1);

    const std::string fresh = scratch / "fresh";
    REQUIRE(rlctl({"restore", copy, "--data-dir", fresh}).exit_code == 0);
    const auto shown = rlctl({"--data-dir", fresh, "--json", "user", "show", "alice"});
    CHECK(shown.exit_code == 0);
}
