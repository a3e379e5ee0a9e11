// --access-log: one JSON line per /limit request, naming the key by key_id, never the key.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::live_server;

namespace {

std::vector<json> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<json> lines;
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        lines.push_back(json::parse(line));
    }
    return lines;
}

}  // namespace

TEST_CASE("the access log has a line per /limit request with the key_id and never the key") {
    rl::testing::temp_dir logs;
    const std::string path = logs / "access.jsonl";
    // One worker thread: lines are written after each reply, so with two a line could land
    // after the next request's, and this test reads them in request order.
    live_server server({"--threads", "1"}, {"RL_ACCESS_LOG=" + path});
    server.create_user("alice", 2);
    const std::string key = server.create_key("alice");
    const std::string key_id =
        server.admin("GET", "/v1/keys?user=alice").body.at("keys").at(0).at("key_id");
    std::vector<int> statuses;
    for (int i = 0; i < 4; ++i) statuses.push_back(server.limit(key).status);
    statuses.push_back(server.limit("").status);
    REQUIRE(server.stop() == 0);  // the log is complete once the server has stopped

    std::ifstream raw(path);
    const std::string text{std::istreambuf_iterator<char>(raw), {}};
    REQUIRE(text.find(key) == std::string::npos);
    const auto lines = read_lines(path);
    REQUIRE(lines.size() == statuses.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const json& line = lines[i];
        INFO(line.dump());
        for (const char* field : {"time", "remote", "method", "path", "status", "outcome", "reason",
                                  "key_id", "user", "latency_us"})
            REQUIRE(line.contains(field));
        REQUIRE(line.at("method") == "GET");
        REQUIRE(line.at("path") == "/limit");
        REQUIRE(line.at("status") == statuses[i]);
        REQUIRE(line.at("latency_us").get<long>() >= 0);
        REQUIRE(line.at("time").get<std::string>().size() == 24);  // ....T..:..:..mmmZ
    }
    REQUIRE(lines[0].at("outcome") == "admitted");
    REQUIRE(lines[0].at("key_id") == key_id);
    REQUIRE(lines[0].at("user") == "alice");
    const json& last = lines.back();
    REQUIRE(last.at("outcome") == "unauthorized");
    REQUIRE(last.at("reason") == "missing_key");
    REQUIRE(last.at("key_id").is_null());
    REQUIRE(last.at("user").is_null());
}

TEST_CASE("an access log that cannot be opened is a configuration error") {
    rl::testing::temp_dir dir;
    const auto r = rl::testing::run_command(
        {rl::testing::ratelimitd_path(), "--data-dir", dir / "data", "--access-log",
         dir / "no/such/dir/log", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"});
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.err.find("--access-log") != std::string::npos);
}

TEST_CASE("start and stop are logged on one line each, with the version and the addresses") {
    live_server server;
    REQUIRE(server.stop() == 0);
    const std::string log = server.process().log();
    INFO(log);
    std::istringstream lines(log);
    int ready = 0, stopped = 0;
    for (std::string line; std::getline(lines, line);) {
        REQUIRE(line.rfind("ratelimitd: ", 0) == 0);
        if (line.rfind("ratelimitd: ready in ", 0) == 0) {
            ++ready;
            REQUIRE(line.find("version " + std::string(RL_VERSION) + " (git ") !=
                    std::string::npos);
            REQUIRE(line.find("public 127.0.0.1:" +
                              std::to_string(server.process().public_port())) != std::string::npos);
            REQUIRE(line.find("data " + server.data_dir()) != std::string::npos);
            REQUIRE(line.find("access log off") != std::string::npos);
        }
        if (line.find("stopped after ") != std::string::npos) {
            ++stopped;
            REQUIRE(line.find("exit 0") != std::string::npos);
        }
    }
    REQUIRE(ready == 1);
    REQUIRE(stopped == 1);
}
