#pragma once
// `ratelimitd healthcheck`: a probe for container HEALTHCHECKs that needs no curl in the image.

namespace rl::service {

// GETs http://<--listen or RL_LISTEN><--path, /healthz>, or the URL given, and returns the exit
// status: 0 when the answer is 2xx, 1 when it is not or nothing answers within --timeout, 2 on bad
// usage. argv[0] is "healthcheck".
int run_healthcheck(int argc, const char* const* argv);

}  // namespace rl::service
