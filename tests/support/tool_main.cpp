// main() for tests that need a program from Debian (nginx, promtool): without it they are
// reported as skipped (exit 77, which CTest shows as "Skipped"), never as passed.

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "tests/support/process.hpp"

int main(int argc, char** argv) {
    if (rl::testing::find_program(RL_REQUIRED_TOOL).empty()) {
        std::printf("SKIPPED: %s is not installed; scripts/install-deps.sh installs it\n",
                    RL_REQUIRED_TOOL);
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
