#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "tests/support/skip_main.hpp"

int main(int argc, char** argv) {
    const std::string reason = rl::testing::skip_reason();
    if (!reason.empty()) {
        std::printf("SKIPPED: %s\n", reason.c_str());
        return 77;
    }
    return Catch::Session().run(argc, argv);
}
