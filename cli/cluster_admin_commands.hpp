#pragma once
// `rlctl cluster status|drain|undrain|haproxy-config`: the cluster as one node's admin API
// reports it (any node will do).

#include <CLI/CLI.hpp>

#include <functional>

#include "cli/session.hpp"

namespace rl::cli {

// Adds the subcommands under `cluster`; the one parsed hands its action to `choose`.
void add_cluster_admin_commands(CLI::App& cluster,
                                const std::function<void(std::function<void(session&)>)>& choose);

}  // namespace rl::cli
