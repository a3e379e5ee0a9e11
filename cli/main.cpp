#include "cli/commands.hpp"

int main(int argc, char** argv) {
    return rl::cli::run(argc, argv);
}
