// The generated configuration as the real HAProxy (Debian's haproxy) reads it: `haproxy -c`
// in zero-warning mode, so a deprecated or ignored keyword fails the test too.

#include <catch2/catch.hpp>

#include <fstream>

#include "cluster/haproxy_config.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

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
