// Secrets stay secret: API keys never appear in a reply, a log line or a file at rest (only
// their SHA-256 does), the admin token never appears in rlctl's output or a 401, and an admin
// listener off loopback is announced loudly.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::command_result;
using rl::testing::http_request;
using rl::testing::http_response;
using rl::testing::live_server;
using rl::testing::run_command;

namespace {

// The key itself and its secret part (after the route), either of which would be a leak.
std::vector<std::string> secrets_of(const std::string& key) {
    std::vector<std::string> parts = {key};
    if (const auto cut = key.rfind('_'); cut != std::string::npos && cut + 1 < key.size())
        parts.push_back(key.substr(cut + 1));
    return parts;
}

void require_absent(const std::string& text, const std::string& secret, const std::string& where) {
    INFO(where << " contains a secret");
    REQUIRE(text.find(secret) == std::string::npos);
}

void require_no_secret_in(const http_response& r, const std::string& secret) {
    require_absent(r.body, secret, "a reply body");
    for (const auto& [name, value] : r.headers) require_absent(value, secret, "header " + name);
}

std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

}  // namespace

TEST_CASE("API keys appear in no reply, log line or stored file; only their SHA-256 is kept") {
    live_server server;
    server.create_user("alice", 2);
    server.create_user("mallory", 5);
    const std::string admitted = server.create_key("alice");
    const std::string disabled = server.create_key("mallory");
    const auto revoked_reply = server.admin("POST", "/v1/keys", {{"user", "alice"}});
    const std::string revoked = revoked_reply.body.at("key");
    REQUIRE(server
                .admin("POST",
                       "/v1/keys/" + revoked_reply.body.at("key_id").get<std::string>() + "/revoke")
                .status == 200);
    const std::string imported = "imported-legacy-key-Zq83vB1x";
    REQUIRE(
        server.admin("POST", "/v1/keys/import", {{"user", "alice"}, {"key", imported}}).status ==
        201);
    // A conflicting import is refused without repeating the key.
    const auto conflict =
        server.admin("POST", "/v1/keys/import", {{"user", "mallory"}, {"key", imported}});
    REQUIRE(conflict.status == 409);
    require_absent(conflict.body.dump(), imported, "a 409 body");
    REQUIRE(server.admin("PATCH", "/v1/users/mallory", {{"disabled", true}}).status == 200);
    const std::string unknown = "rl_0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const std::string malformed = "not a key\twith tabs";

    const std::vector<std::string> keys = {admitted, disabled, revoked,
                                           imported, unknown,  malformed};
    std::vector<http_response> replies;
    for (int i = 0; i < 3; ++i) replies.push_back(server.limit(admitted));  // 200, 200, 429
    for (const auto& key : keys) {
        replies.push_back(server.limit(key));
        replies.push_back(server.limit(key, "HEAD"));
        replies.push_back(http_request("GET", server.process().public_url() + "/elsewhere",
                                       {"X-API-KEY: " + key}));
    }
    REQUIRE(replies[0].status == 200);
    REQUIRE(replies[2].status == 429);
    for (const auto& r : replies)
        for (const auto& key : keys)
            for (const auto& secret : secrets_of(key)) require_no_secret_in(r, secret);

    // At rest: after a clean stop and after a kill -9 (WAL not yet flushed into tables).
    for (const bool clean : {false, true}) {
        if (clean)
            REQUIRE(server.stop() == 0);
        else
            server.kill_hard();
        const std::string log = server.process().log();
        REQUIRE(log.find("ready in ") != std::string::npos);
        for (const auto& key : keys)
            for (const auto& secret : secrets_of(key)) require_absent(log, secret, "the log");
        std::size_t files = 0;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(server.data_dir())) {
            if (!entry.is_regular_file()) continue;
            ++files;
            const std::string bytes = file_bytes(entry.path());
            for (const auto& key : {admitted, disabled, revoked, imported})
                for (const auto& secret : secrets_of(key))
                    require_absent(bytes, secret, entry.path().string());
        }
        REQUIRE(files > 3);
        server.start();
        REQUIRE(server.limit(imported).status != 401);  // the hash alone still finds it
    }
}

TEST_CASE("a refused admin token gets a 401 that repeats nothing it was sent") {
    live_server server;
    const auto base = server.process().admin_url();
    const std::string real = server.process().admin_token();
    const auto none = http_request("GET", base + "/v1/users");
    for (const std::string& guess :
         {std::string("wrong-token-of-some-length"), real.substr(0, real.size() - 1), real + "x",
          std::string("Bearer"), std::string()}) {
        const auto r = http_request("GET", base + "/v1/users", {"Authorization: Bearer " + guess});
        REQUIRE(r.status == 401);
        REQUIRE(r.body == none.body);  // the same answer whatever was tried
        require_no_secret_in(r, real);
        if (guess.size() >= 8) require_no_secret_in(r, guess);
    }
    REQUIRE(none.header("www-authenticate") == "Bearer");
}

TEST_CASE("rlctl never prints the admin token, whether it works, fails or is refused") {
    live_server server;
    const std::string token = server.process().admin_token();
    const std::string url = server.process().admin_url();
    const auto rlctl = [](std::vector<std::string> args, std::vector<std::string> env) {
        args.insert(args.begin(), rl::testing::rlctl_path());
        return run_command(args, env);
    };
    const std::vector<std::string> by_env = {"RL_ADMIN_URL=" + url, "RL_ADMIN_TOKEN=" + token};
    std::vector<command_result> results = {
        rlctl({"user", "create", "dora", "--limit", "3"}, by_env),
        rlctl({"--json", "user", "list"}, by_env),
        rlctl({"user", "list"}, by_env),
        rlctl({"--json", "key", "create", "dora"}, by_env),
        rlctl({"--json", "usage", "--user", "dora"}, by_env),
        rlctl({"user", "show", "nobody"}, by_env),
        rlctl({"--server", url, "--token", token, "key", "list"}, {}),
        rlctl({"--json", "--server", url, "--token", token + "-wrong", "user", "list"}, {}),
        rlctl({"--server", "http://127.0.0.1:1", "--token", token, "user", "list"}, {}),
        rlctl({"--data-dir", server.data_dir(), "user", "list"}, {}),  // token from the file
        rlctl({"--data-dir", server.data_dir(), "--json", "user", "show", "nobody"}, {}),
        rlctl({"--token", token, "no-such-command"}, {}),
    };
    REQUIRE(results[0].exit_code == 0);
    REQUIRE(results[5].exit_code == 1);
    REQUIRE(results[7].exit_code == 1);
    REQUIRE(results[9].exit_code == 0);
    for (const auto& r : results) {
        require_absent(r.out, token, "rlctl's stdout");
        require_absent(r.err, token, "rlctl's stderr");
    }
}

TEST_CASE("an admin listener off loopback is announced with a warning; on loopback it is not") {
    const auto run_briefly = [](const std::string& admin_host) {
        rl::testing::temp_dir dir;
        // `timeout` sends SIGTERM after two seconds; the server then exits 0 on its own.
        return run_command(
            {"/usr/bin/timeout", "-s", "TERM", "2", rl::testing::ratelimitd_path(), "--data-dir",
             dir / "data", "--listen", "127.0.0.1:" + std::to_string(rl::testing::free_port()),
             "--admin-listen", admin_host + ":" + std::to_string(rl::testing::free_port())});
    };
    const auto open = run_briefly("0.0.0.0");
    INFO(open.err);
    REQUIRE(open.err.find("WARNING: the admin API listens on 0.0.0.0") != std::string::npos);
    const auto loopback = run_briefly("127.0.0.1");
    INFO(loopback.err);
    REQUIRE(loopback.err.find("ready in ") != std::string::npos);
    REQUIRE(loopback.err.find("WARNING") == std::string::npos);
}
