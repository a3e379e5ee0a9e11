#pragma once
// ratelimitd from start to stop: open storage, load keys, serve both listeners, shut down.

#include "service/config.hpp"

namespace rl::service {

// Runs until SIGTERM or SIGINT; returns the process exit code.
int run(const config& cfg);

}  // namespace rl::service
