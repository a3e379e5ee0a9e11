#pragma once
// ratelimitd's configuration: flags, each with an environment variable.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace rl::service {

struct endpoint {
    std::string host;
    std::uint16_t port = 0;
};

// What /limit does with an admit whose count storage cannot write (a full or failing disk).
enum class on_storage_error {
    open,    // admit from memory, hold the count and write it when storage recovers
    closed,  // refuse the admit with 503; it consumes no quota
};

struct config {
    endpoint listen{"0.0.0.0", 8080};
    endpoint admin_listen{"127.0.0.1", 8081};
    std::string data_dir = "./data";
    std::uint32_t default_limit = 10;
    unsigned threads = 0;                                           // 0: one per core
    std::chrono::seconds usage_retention = std::chrono::hours(48);  // per-second buckets
    // Roll-ups, kept longer: per-minute and per-hour buckets.
    std::chrono::seconds usage_retention_1m = std::chrono::hours(30 * 24);
    std::chrono::seconds usage_retention_1h = std::chrono::hours(400 * 24);
    std::optional<std::string> admin_token;  // RL_ADMIN_TOKEN; else <data_dir>/admin.token
    // Hostile clients: connections past the cap wait in the listen backlog; a connection that
    // has not sent a whole request within the idle timeout (idle keep-alive or a slowly sent
    // header alike) is closed.
    std::size_t max_connections = 10'000;
    std::chrono::seconds idle_timeout{60};
    std::optional<std::string> access_log;  // file or "-" (stdout); off when absent
    on_storage_error storage_errors = on_storage_error::open;
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
