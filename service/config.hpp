#pragma once
// ratelimitd's configuration: flags, each with an environment variable.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/defaults.hpp"

namespace rl::service {

struct endpoint {
    std::string host;
    std::uint16_t port = 0;
};

// What /limit does with an admit whose count storage cannot write (a full or failing disk).
enum class on_storage_error {
    open,    // admit from memory, hold the count and write it when storage recovers (default)
    closed,  // refuse the admit with 503; it consumes no quota
};

// "open" or "closed", as the flag spells them.
const char* to_string(on_storage_error mode) noexcept;

// Every field starts at its default from common/defaults.hpp.
struct config {
    endpoint listen{std::string(common::defaults::listen_host), common::defaults::listen_port};
    endpoint admin_listen{std::string(common::defaults::admin_listen_host),
                          common::defaults::admin_listen_port};
    std::string data_dir{common::defaults::data_dir};
    std::uint32_t default_limit = common::defaults::default_limit;
    unsigned threads = common::defaults::threads;  // 0: one per core
    // How long usage is kept at each resolution: per-second buckets, then the per-minute and
    // per-hour roll-ups, each at least as long as the finer one.
    std::chrono::seconds usage_retention_1s = common::defaults::usage_retention_1s;
    std::chrono::seconds usage_retention_1m = common::defaults::usage_retention_1m;
    std::chrono::seconds usage_retention_1h = common::defaults::usage_retention_1h;
    std::optional<std::string> admin_token;  // RL_ADMIN_TOKEN; else <data_dir>/admin.token
    // RL_ADMIN_READONLY_TOKEN; else <data_dir>/admin.readonly.token
    std::optional<std::string> admin_readonly_token;
    // Hostile clients: connections past the cap wait in the listen backlog; a connection that
    // has not sent a whole request within the idle timeout (idle keep-alive or a slowly sent
    // header alike) is closed.
    std::size_t max_connections = common::defaults::max_connections;
    std::chrono::seconds idle_timeout = common::defaults::idle_timeout;
    std::optional<std::string> access_log;  // file or "-" (stdout); off when absent
    std::optional<std::string> audit_log;   // the same, for admin changes
    service::on_storage_error on_storage_error = service::on_storage_error::open;
    // Every plan in shadow mode: limits decided and counted, never enforced.
    bool shadow = false;
    // Cluster mode (docs/cluster.md): on when `cluster_etcd` is not empty.
    std::vector<std::string> cluster_etcd;  // etcd client URLs
    std::string node_id;
    std::string advertise_public;  // http://host:port other nodes and rlctl reach
    std::string advertise_admin;
    // How long a node is a member before a higher-ranked node takes groups back from others.
    std::chrono::milliseconds handback_after{30000};

    bool clustered() const noexcept { return !cluster_etcd.empty(); }
};

// Thrown for bad configuration; main prints `what()` on one line and exits 2.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// What parsing asked for: run with a config, or exit at once (--help, --version).
struct parse_outcome {
    std::optional<config> run;
    int exit_code = 0;
};

// Reads flags and RL_* environment variables (a flag wins over its variable).
parse_outcome parse_config(int argc, const char* const* argv);

// "host:port", "[v6]:port" or ":port"; throws config_error.
endpoint parse_endpoint(const std::string& text, const std::string& what);

}  // namespace rl::service
