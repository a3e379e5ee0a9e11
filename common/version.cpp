#include "common/version.hpp"

#include <fmt/format.h>

namespace rl::common {

const char* version() noexcept {
    return RL_VERSION;
}

const char* revision() noexcept {
    return RL_REVISION;
}

std::string version_line(std::string_view program) {
    return fmt::format("{} {} (git {})", program, version(), revision());
}

}  // namespace rl::common
