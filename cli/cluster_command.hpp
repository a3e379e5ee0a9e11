#pragma once
// `rlctl cluster ...`: commands that talk to etcd itself rather than to a node's admin API.
//   cluster init --etcd URLS [--groups 32] [--lease-ttl 3s] [--fence 1250ms]
//                [--reply-deadline 250ms] [--default-limit N] [--from-data-dir DIR] [--force]
// writes /rl/v1/config (refusing to replace a different one without --force) and, with
// --from-data-dir, copies a stopped single node's plans, users and keys into etcd, leaving
// alone every record etcd already holds, so a run cut short can simply be repeated.

#include <functional>

#include <CLI/CLI.hpp>

#include "cli/session.hpp"

namespace rl::cli {

void add_cluster_commands(CLI::App& app, std::function<void(session&)>& chosen);

}  // namespace rl::cli
