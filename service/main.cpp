#include <fmt/format.h>

#include <csignal>
#include <string_view>

#include "service/config.hpp"
#include "service/healthcheck.hpp"
#include "service/server.hpp"

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "healthcheck")
        return rl::service::run_healthcheck(argc - 1, argv + 1);
    rl::service::parse_outcome parsed;
    try {
        parsed = rl::service::parse_config(argc, argv);
    } catch (const rl::service::config_error& e) {
        fmt::print(stderr, "ratelimitd: {}\n", e.what());
        return 2;
    }
    if (!parsed.run) return parsed.exit_code;
    std::signal(SIGPIPE, SIG_IGN);
    return rl::service::run(*parsed.run);
}
