// The generated configuration as the real HAProxy (Debian's haproxy) reads it: `haproxy -c`
// in zero-warning mode, so a deprecated or ignored keyword fails the test too.

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "cluster/haproxy_config.hpp"
#include "tests/support/cluster_harness.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using rl::testing::servers_up;

TEST_CASE("haproxy -c accepts the generated config and map, without a warning") {
    rl::testing::temp_dir dir;
    for (std::uint32_t groups : {1u, 32u, 256u}) {
        rl::cluster::haproxy_options options;
        options.listen = "127.0.0.1:" + std::to_string(rl::testing::free_port());
        options.map_path = dir / "rl-groups.map";
        options.stats_socket = dir / "rl.sock";
        const auto files = rl::cluster::render_haproxy_config({{"rl1", "127.0.0.1:18081"},
                                                               {"rl2", "http://127.0.0.1:18082"},
                                                               {"rl3", "http://localhost:18083/"}},
                                                              groups, options);
        std::ofstream(dir / "haproxy.cfg") << files.config;
        std::ofstream(options.map_path) << files.group_map;

        const auto check = rl::testing::run_command(
            {rl::testing::find_program("haproxy"), "-c", "-dW", "-f", dir / "haproxy.cfg"});
        INFO("groups " << groups << "\n" << check.out << check.err);
        REQUIRE(check.exit_code == 0);
    }
}

TEST_CASE("haproxy -c refuses the config when the map is missing, so the check means something") {
    rl::testing::temp_dir dir;
    rl::cluster::haproxy_options options;
    options.map_path = dir / "absent.map";
    options.stats_socket = "";
    const auto files =
        rl::cluster::render_haproxy_config({{"rl1", "127.0.0.1:18081"}}, 32, options);
    std::ofstream(dir / "haproxy.cfg") << files.config;
    const auto check = rl::testing::run_command(
        {rl::testing::find_program("haproxy"), "-c", "-dW", "-f", dir / "haproxy.cfg"});
    REQUIRE(check.exit_code != 0);
}

TEST_CASE("haproxy with the generated config sends each route to its group's owner") {
    rl::testing::temp_dir dir;
    // Four groups over three nodes: rl1 owns 0 and 1, rl2 owns 2, rl3 owns 3.
    const std::map<std::string, std::string> owned = {{"rl1", "0,1"}, {"rl2", "2"}, {"rl3", "3"}};
    std::vector<rl::cluster::haproxy_node> nodes;
    std::vector<std::unique_ptr<rl::testing::child_process>> processes;
    for (const auto& [id, groups] : owned) {
        const int port = rl::testing::free_port();
        nodes.push_back({id, "127.0.0.1:" + std::to_string(port)});
        processes.push_back(std::make_unique<rl::testing::child_process>(
            std::vector<std::string>{RL_FAKE_NODE_PATH, std::to_string(port), id, "4", groups},
            dir / (id + ".log")));
        processes.back()->wait_until_answering("http://" + nodes.back().public_address + "/readyz");
    }
    rl::cluster::haproxy_options options;
    const int port = rl::testing::free_port();
    options.listen = "127.0.0.1:" + std::to_string(port);
    options.map_path = dir / "rl-groups.map";
    options.stats_socket = dir / "rl.sock";
    const auto files = rl::cluster::render_haproxy_config(nodes, 4, options);
    std::ofstream(dir / "haproxy.cfg") << files.config;
    std::ofstream(options.map_path) << files.group_map;
    rl::testing::child_process haproxy(
        {rl::testing::find_program("haproxy"), "-db", "-f", dir / "haproxy.cfg"},
        dir / "haproxy.log");
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/limit";
    haproxy.wait_until_answering(url);
    INFO("haproxy log:\n" << haproxy.log());

    // The health checks leave exactly the owner up in each group's backend.
    std::map<std::string, std::vector<std::string>> up;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        up = servers_up(options.stats_socket);
        if (up["rl_g00"].size() == 1 && up["rl_g01"].size() == 1 && up["rl_g02"].size() == 1 &&
            up["rl_g03"].size() == 1 && up["rl_any"].size() == 3)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(up["rl_g00"] == std::vector<std::string>{"rl1"});
    REQUIRE(up["rl_g01"] == std::vector<std::string>{"rl1"});
    REQUIRE(up["rl_g02"] == std::vector<std::string>{"rl2"});
    REQUIRE(up["rl_g03"] == std::vector<std::string>{"rl3"});
    REQUIRE(up["rl_any"].size() == 3);

    // Routes in each quarter of the first byte; rl_ keys go straight to the owner, imported
    // keys (no route for HAProxy) reach it through retries on 503 not-owner.
    const std::map<std::string, std::string> owner_of_route = {{"00aaaaaaaa", "rl1"},
                                                               {"7fffffffff", "rl1"},
                                                               {"80aaaaaaaa", "rl2"},
                                                               {"c0aaaaaaaa", "rl3"},
                                                               {"ffffffffff", "rl3"}};
    for (const auto& [route, owner] : owner_of_route) {
        for (int i = 0; i < 6; ++i) {
            INFO("route " << route);
            const auto routed =
                rl::testing::http_request("GET", url, {"X-API-KEY: rl_" + route + "_secret"});
            REQUIRE(routed.status == 200);
            REQUIRE(routed.body == owner);
            const auto imported =
                rl::testing::http_request("GET", url, {"X-API-KEY: imported-" + route});
            REQUIRE(imported.status == 200);
            REQUIRE(imported.body == owner);
        }
    }
    // No key, or one that is not a route, goes to any node, which answers for itself.
    REQUIRE(rl::testing::http_request("GET", url).status == 401);
    REQUIRE(rl::testing::http_request("GET", url, {"X-API-KEY: rl_XYZ_secret"}).status == 401);
}
