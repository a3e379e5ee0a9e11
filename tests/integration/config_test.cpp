// Bad configuration: one clear line on stderr and exit code 2.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <regex>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using rl::testing::run_command;

namespace {

void require_config_error(const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {}) {
    rl::testing::temp_dir dir;
    std::vector<std::string> argv = {rl::testing::ratelimitd_path(), "--data-dir", dir / "data"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_command(argv, env);
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 2);
    REQUIRE_FALSE(r.err.empty());
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE(r.out.empty());
}

}  // namespace

TEST_CASE("bad flags and environment variables exit 2 with one line") {
    require_config_error({"--default-limit", "abc"});
    require_config_error({"--default-limit", "0"});
    require_config_error({"--listen", "nonsense"});
    require_config_error({"--listen", "127.0.0.1:99999"});
    require_config_error({"--admin-listen", "localhost:"});
    require_config_error({"--threads", "-1"});
    require_config_error({"--usage-retention", "5x"});
    require_config_error({"--no-such-flag"});
    require_config_error({}, {"RL_DEFAULT_LIMIT=ten"});
    require_config_error({}, {"RL_THREADS=many"});
    require_config_error({"--max-connections", "0"});
    require_config_error({}, {"RL_IDLE_TIMEOUT=forever"});
    require_config_error({}, {"RL_ADMIN_TOKEN=short"});
    require_config_error({"--listen", "not-a-host:8080"});
}

TEST_CASE("a data directory that cannot be one exits 2") {
    rl::testing::temp_dir dir;
    { std::ofstream(dir / "file") << "x"; }
    const auto r = run_command({rl::testing::ratelimitd_path(), "--data-dir", dir / "file",
                                "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"});
    REQUIRE(r.exit_code == 2);
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("a port in use exits 1 with a clear line") {
    rl::testing::temp_dir dir;
    rl::testing::server_process first(dir / "one");
    const std::string taken = first.public_url().substr(std::string("http://").size());
    const auto r = run_command({rl::testing::ratelimitd_path(), "--data-dir", dir / "two",
                                "--listen", taken, "--admin-listen", "127.0.0.1:0"});
    REQUIRE(r.exit_code == 1);
    REQUIRE(r.err.find("cannot listen") != std::string::npos);
}

TEST_CASE("--help and --version exit 0") {
    const auto help = run_command({rl::testing::ratelimitd_path(), "--help"});
    REQUIRE(help.exit_code == 0);
    REQUIRE(help.out.find("--default-limit") != std::string::npos);
    REQUIRE(help.out.find("RL_DEFAULT_LIMIT") != std::string::npos);
    const auto version = run_command({rl::testing::ratelimitd_path(), "--version"});
    REQUIRE(version.exit_code == 0);
    REQUIRE(version.out.find("ratelimitd") != std::string::npos);
}

TEST_CASE("--help reads like a man page and --version names the build, on both programs") {
    for (const std::string& program : {rl::testing::ratelimitd_path(), rl::testing::rlctl_path()}) {
        const std::string name = program.substr(program.rfind('/') + 1);
        INFO(name);
        const auto help = run_command({program, "--help"});
        REQUIRE(help.exit_code == 0);
        std::size_t at = 0;
        for (const char* section : {"NAME\n", "SYNOPSIS\n", "DESCRIPTION\n", "OPTIONS\n",
                                    "ENVIRONMENT\n", "EXIT STATUS\n", "FILES\n", "EXAMPLES\n"}) {
            INFO("section " << section);
            const auto found = help.out.find(section, at);
            REQUIRE(found != std::string::npos);  // present, and in man page order
            at = found;
        }
        REQUIRE(help.out.find("    " + name + " - ") != std::string::npos);
        REQUIRE(help.out.find("--version") != std::string::npos);
        const auto version = run_command({program, "--version"});
        REQUIRE(version.exit_code == 0);
        REQUIRE(
            std::regex_search(version.out, std::regex("^" + name + " [0-9]+\\.[0-9]+\\.[0-9]+")));
        REQUIRE(version.out.find("(git ") != std::string::npos);
    }
    const auto rlctl_help = run_command({rl::testing::rlctl_path(), "--help"});
    REQUIRE(rlctl_help.out.find("COMMANDS\n") != std::string::npos);
    REQUIRE(rlctl_help.out.find("  key revoke KEY_ID") != std::string::npos);
    const auto options_env = run_command({rl::testing::ratelimitd_path(), "--help"});
    REQUIRE(options_env.out.find("RL_ACCESS_LOG") != std::string::npos);
}

TEST_CASE("--on-storage-error and RL_ON_STORAGE_ERROR accept only open or closed") {
    require_config_error({"--on-storage-error", "sometimes"});
    require_config_error({}, {"RL_ON_STORAGE_ERROR=fail-open"});
}
