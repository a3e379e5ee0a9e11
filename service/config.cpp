#include "service/config.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <arpa/inet.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "admin/catalog.hpp"
#include "common/time_text.hpp"
#include "common/version.hpp"
#include "service/manual.hpp"

namespace rl::service {

endpoint parse_endpoint(const std::string& text, const std::string& what) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos)
        throw config_error(fmt::format("{}: '{}' is not host:port", what, text));
    std::string host = text.substr(0, colon);
    const std::string port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    unsigned char parsed[16];
    if (host != "localhost" && ::inet_pton(AF_INET, host.c_str(), parsed) != 1 &&
        ::inet_pton(AF_INET6, host.c_str(), parsed) != 1)
        throw config_error(fmt::format("{}: '{}' is not an IP address or localhost", what, host));
    char* end = nullptr;
    const long port = std::strtol(port_text.c_str(), &end, 10);
    if (port_text.empty() || *end != '\0' || port < 0 || port > 65535)
        throw config_error(fmt::format("{}: '{}' has no valid port (0-65535)", what, text));
    return endpoint{host, static_cast<std::uint16_t>(port)};
}

namespace {

// A coarser resolution is kept at least as long as the finer one it is folded from, so a report
// can always fall back from one to the next.
std::chrono::seconds rollup_retention(const char* flag, const std::string& text,
                                      std::chrono::seconds finer, const char* finer_flag) {
    const auto keep = common::parse_duration(text);
    if (!keep) throw config_error(fmt::format("{}: '{}' is not a duration (e.g. 30d)", flag, text));
    if (*keep < finer)
        throw config_error(fmt::format("{}: '{}' is shorter than {} ({}s)", flag, text, finer_flag,
                                       finer.count()));
    return *keep;
}

}  // namespace

parse_outcome parse_config(int argc, const char* const* argv) {
    CLI::App app{"ratelimitd: exact per-user API rate limits, backed by RocksDB", "ratelimitd"};
    app.set_version_flag("--version", common::version_line("ratelimitd"));
    app.formatter(std::make_shared<common::man_page_formatter>(ratelimitd_manual()));

    std::string listen = "0.0.0.0:8080";
    std::string admin_listen = "127.0.0.1:8081";
    std::string data_dir = "./data";
    std::int64_t default_limit = 10;
    std::int64_t threads = 0;
    std::string retention = "48h";
    std::int64_t max_connections = 10'000;
    std::string idle_timeout = "60s";
    std::string access_log;
    std::string storage_errors = "open";

    app.add_option("--listen", listen, "Public address for /limit, /healthz, /readyz")
        ->envname("RL_LISTEN")
        ->capture_default_str();
    app.add_option("--admin-listen", admin_listen, "Admin API address (keep it on loopback)")
        ->envname("RL_ADMIN_LISTEN")
        ->capture_default_str();
    app.add_option("--data-dir", data_dir, "RocksDB data directory (created if missing)")
        ->envname("RL_DATA_DIR")
        ->capture_default_str();
    app.add_option("--default-limit", default_limit,
                   "Requests per sliding second for users without their own limit")
        ->envname("RL_DEFAULT_LIMIT")
        ->capture_default_str();
    app.add_option("--threads", threads, "Worker threads (0: one per core)")
        ->envname("RL_THREADS")
        ->capture_default_str();
    app.add_option("--usage-retention,--retention-1s", retention,
                   "How long per-second usage is kept (e.g. 48h, 7d)")
        ->envname("RL_USAGE_RETENTION")
        ->capture_default_str();

    app.add_option("--max-connections", max_connections,
                   "Open connections on the public port; more wait in the listen backlog")
        ->envname("RL_MAX_CONNECTIONS")
        ->capture_default_str();
    app.add_option("--idle-timeout", idle_timeout,
                   "Close a public connection that sends no complete request for this long")
        ->envname("RL_IDLE_TIMEOUT")
        ->capture_default_str();
    app.add_option("--access-log", access_log,
                   "Write one JSON line per /limit request to this file, or - for stdout "
                   "(default: off)")
        ->envname("RL_ACCESS_LOG");
    std::string retention_1m = "30d";
    std::string retention_1h = "400d";
    app.add_option("--retention-1m", retention_1m, "How long per-minute usage roll-ups are kept")
        ->envname("RL_RETENTION_1M")
        ->capture_default_str();
    app.add_option("--retention-1h", retention_1h, "How long per-hour usage roll-ups are kept")
        ->envname("RL_RETENTION_1H")
        ->capture_default_str();
    app.add_option("--on-storage-error", storage_errors,
                   "When usage cannot be written: 'open' admits from memory and writes the "
                   "counts once storage recovers; 'closed' answers 503")
        ->envname("RL_ON_STORAGE_ERROR")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return {std::nullopt, app.exit(e)};
    } catch (const CLI::ParseError& e) {
        throw config_error(e.what());
    }

    config cfg;
    cfg.listen = parse_endpoint(listen, "--listen");
    cfg.admin_listen = parse_endpoint(admin_listen, "--admin-listen");
    if (data_dir.empty()) throw config_error("--data-dir: must not be empty");
    cfg.data_dir = data_dir;
    if (default_limit < 1 || default_limit > admin::max_limit)
        throw config_error(fmt::format("--default-limit: {} is not between 1 and {}", default_limit,
                                       admin::max_limit));
    cfg.default_limit = static_cast<std::uint32_t>(default_limit);
    if (threads < 0 || threads > 256)
        throw config_error(fmt::format("--threads: {} is not between 0 and 256", threads));
    cfg.threads = threads == 0 ? std::max(1u, std::thread::hardware_concurrency())
                               : static_cast<unsigned>(threads);
    const auto keep = common::parse_duration(retention);
    if (!keep || keep->count() < 60)
        throw config_error(
            fmt::format("--usage-retention: '{}' is not a duration of at least 1m "
                        "(e.g. 48h, 7d)",
                        retention));
    cfg.usage_retention = *keep;
    if (max_connections < 1 || max_connections > 1'000'000)
        throw config_error(
            fmt::format("--max-connections: {} is not between 1 and 1000000", max_connections));
    cfg.max_connections = static_cast<std::size_t>(max_connections);
    const auto idle = common::parse_duration(idle_timeout);
    if (!idle || idle->count() < 1 || idle->count() > 3600)
        throw config_error(fmt::format(
            "--idle-timeout: '{}' is not a duration from 1s to 1h (e.g. 60s, 5m)", idle_timeout));
    cfg.idle_timeout = *idle;
    if (!access_log.empty()) cfg.access_log = access_log;
    cfg.usage_retention_1m =
        rollup_retention("--retention-1m", retention_1m, cfg.usage_retention, "--usage-retention");
    cfg.usage_retention_1h =
        rollup_retention("--retention-1h", retention_1h, cfg.usage_retention_1m, "--retention-1m");
    if (storage_errors == "open")
        cfg.storage_errors = on_storage_error::open;
    else if (storage_errors == "closed")
        cfg.storage_errors = on_storage_error::closed;
    else
        throw config_error(
            fmt::format("--on-storage-error: '{}' is not 'open' or 'closed'", storage_errors));
    if (const char* token = std::getenv("RL_ADMIN_TOKEN"); token && *token) {
        if (std::string_view(token).size() < 16)
            throw config_error("RL_ADMIN_TOKEN: use at least 16 characters");
        cfg.admin_token = token;
    }
    return {cfg, 0};
}

}  // namespace rl::service
