// `ratelimitd healthcheck`, the Docker image's HEALTHCHECK, against a real server.

#include <catch2/catch.hpp>

#include "tests/integration/fixture.hpp"

using rl::testing::run_command;

namespace {

rl::testing::command_result healthcheck(const std::vector<std::string>& args,
                                        const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {rl::testing::ratelimitd_path(), "healthcheck"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, env);
}

}  // namespace

TEST_CASE("healthcheck exits 0 when /healthz answers on --listen, RL_LISTEN or a URL") {
    rl::testing::live_server ratelimitd;
    const std::string port = std::to_string(ratelimitd.process().public_port());

    // A wildcard --listen, as in the image, is reached on loopback.
    const auto by_flag = healthcheck({"--listen", "0.0.0.0:" + port});
    INFO(by_flag.err);
    REQUIRE(by_flag.exit_code == 0);
    REQUIRE(by_flag.out.find("/healthz: status 200") != std::string::npos);
    REQUIRE(healthcheck({}, {"RL_LISTEN=:" + port}).exit_code == 0);
    REQUIRE(healthcheck({"--path", "/readyz"}, {"RL_LISTEN=127.0.0.1:" + port}).exit_code == 0);
    REQUIRE(healthcheck({"http://localhost:" + port + "/readyz"}).exit_code == 0);

    const auto not_found = healthcheck({"http://127.0.0.1:" + port + "/nothing"});
    REQUIRE(not_found.exit_code == 1);
    REQUIRE(not_found.err.find("status 404") != std::string::npos);
}

TEST_CASE("healthcheck exits 1 when nothing answers and 2 on bad usage") {
    const auto refused =
        healthcheck({"--listen", "127.0.0.1:" + std::to_string(rl::testing::free_port())});
    REQUIRE(refused.exit_code == 1);
    REQUIRE(refused.err.find("connect:") != std::string::npos);

    REQUIRE(healthcheck({"https://127.0.0.1:8080/healthz"}).exit_code == 2);
    REQUIRE(healthcheck({"--listen", "nowhere"}).exit_code == 2);
    REQUIRE(healthcheck({"--path", "healthz"}).exit_code == 2);
    REQUIRE(healthcheck({"--no-such-flag"}).exit_code == 2);
    REQUIRE(healthcheck({"--help"}).exit_code == 0);
}
