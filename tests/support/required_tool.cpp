// The skip reason of a test that needs a program from Debian (nginx, promtool), named by
// RL_REQUIRED_TOOL.

#include "tests/support/process.hpp"
#include "tests/support/skip_main.hpp"

std::string rl::testing::skip_reason() {
    if (!find_program(RL_REQUIRED_TOOL).empty()) return {};
    return std::string(RL_REQUIRED_TOOL) + " is not installed; scripts/install-deps.sh installs it";
}
