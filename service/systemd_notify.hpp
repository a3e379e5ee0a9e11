#pragma once
// Readiness for a systemd unit with Type=notify: systemd starts the units that need ratelimitd
// only once /limit can answer, not when the process has merely been forked. Each call does
// nothing when the process was not started by systemd (no NOTIFY_SOCKET).

#include <string>

namespace rl::service {

// Keys are loaded and both listeners accept: READY=1, with `status` for `systemctl status`.
void notify_ready(const std::string& status);

// A stop signal arrived: STOPPING=1, so systemd reports "deactivating" while in-flight requests
// finish and usage is flushed.
void notify_stopping();

}  // namespace rl::service
