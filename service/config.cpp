#include "service/config.hpp"

#include "cluster/layout.hpp"

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

// The environment variables an option was once read from: used when neither the flag nor the
// option's current variable is set.
void read_old_env(const CLI::Option* option, std::initializer_list<const char*> old_names,
                  std::string& value) {
    if (option->count() != 0) return;
    for (const char* name : old_names)
        if (const char* text = std::getenv(name); text && *text) {
            value = text;
            return;
        }
}

std::string url_of(const endpoint& e) {
    std::string host = e.host;
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return fmt::format("http://{}:{}", host, e.port);
}

bool is_http_url(const std::string& url) {
    return url.rfind("http://", 0) == 0 && url.size() > 7 &&
           url.find_first_of(" \t\n,") == std::string::npos;
}

void read_cluster(config& cfg, const std::string& etcd, const std::string& node_id,
                  const std::string& advertise_public, const std::string& advertise_admin,
                  const std::string& handback_after) {
    const auto handback = common::parse_duration_ms(handback_after);
    if (!handback || handback->count() < 0)
        throw config_error(
            fmt::format("--handback-after: '{}' is not a duration (e.g. 30s)", handback_after));
    cfg.handback_after = *handback;
    if (etcd.empty()) {
        if (!node_id.empty())
            throw config_error("--node-id: only with --cluster-etcd (cluster mode)");
        return;
    }
    std::size_t start = 0;
    while (start <= etcd.size()) {
        const std::size_t comma = std::min(etcd.find(',', start), etcd.size());
        const std::string url = etcd.substr(start, comma - start);
        if (!is_http_url(url))
            throw config_error(fmt::format(
                "--cluster-etcd: '{}' is not an http:// URL (e.g. http://127.0.0.1:2379)", url));
        cfg.cluster_etcd.push_back(url);
        start = comma + 1;
    }
    if (!cluster::layout::is_valid_node_id(node_id))
        throw config_error(
            node_id.empty()
                ? "--node-id: cluster mode needs this node's id"
                : fmt::format("--node-id: '{}' is not 1-64 of A-Z a-z 0-9 . _ -", node_id));
    cfg.node_id = node_id;
    cfg.advertise_public = advertise_public.empty() ? url_of(cfg.listen) : advertise_public;
    cfg.advertise_admin = advertise_admin.empty() ? url_of(cfg.admin_listen) : advertise_admin;
    for (const auto& [flag, url] : {std::pair{"--advertise-public", &cfg.advertise_public},
                                    std::pair{"--advertise-admin", &cfg.advertise_admin}})
        if (!is_http_url(*url))
            throw config_error(fmt::format("{}: '{}' is not an http:// URL", flag, *url));
    if (!cfg.admin_token)
        throw config_error(
            "RL_ADMIN_TOKEN: cluster mode needs it, the same on every node (nodes call each "
            "other's admin API)");
}

}  // namespace

const char* to_string(on_storage_error mode) noexcept {
    return mode == on_storage_error::closed ? "closed" : "open";
}

parse_outcome parse_config(int argc, const char* const* argv) {
    namespace defaults = common::defaults;
    CLI::App app{"ratelimitd: exact per-user API rate limits, backed by RocksDB", "ratelimitd"};
    app.set_version_flag("--version", common::version_line("ratelimitd"));
    app.formatter(std::make_shared<common::man_page_formatter>(ratelimitd_manual()));

    std::string listen = fmt::format("{}:{}", defaults::listen_host, defaults::listen_port);
    std::string admin_listen =
        fmt::format("{}:{}", defaults::admin_listen_host, defaults::admin_listen_port);
    std::string data_dir(defaults::data_dir);
    std::string default_limit = std::to_string(defaults::default_limit);
    std::int64_t threads = defaults::threads;
    std::string retention_1s = common::duration_text(defaults::usage_retention_1s);
    std::string retention_1m = common::duration_text(defaults::usage_retention_1m);
    std::string retention_1h = common::duration_text(defaults::usage_retention_1h);
    std::int64_t max_connections = static_cast<std::int64_t>(defaults::max_connections);
    std::string idle_timeout = common::duration_text(defaults::idle_timeout);
    std::string access_log;
    bool shadow = false;
    std::string audit_log;
    std::string storage_error_mode = to_string(config{}.on_storage_error);
    std::string cluster_etcd, node_id, advertise_public, advertise_admin;
    std::string handback_after = "30s";

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
        ->type_name("INT")
        ->capture_default_str();
    app.add_option("--threads", threads, "Worker threads (0: one per core)")
        ->envname("RL_THREADS")
        ->capture_default_str();
    // Retention: --usage-retention-<resolution> and RL_USAGE_RETENTION_<RESOLUTION>; the older
    // spellings stay as aliases (--usage-retention is the SPEC's name for the per-second one).
    const CLI::Option* keep_1s =
        app.add_option("--usage-retention-1s,--usage-retention,--retention-1s", retention_1s,
                       "How long per-second usage is kept (e.g. 48h, 7d; at least 1m)")
            ->envname("RL_USAGE_RETENTION_1S")
            ->capture_default_str();
    const CLI::Option* keep_1m =
        app.add_option("--usage-retention-1m,--retention-1m", retention_1m,
                       "How long per-minute usage roll-ups are kept (at least the per-second "
                       "retention)")
            ->envname("RL_USAGE_RETENTION_1M")
            ->capture_default_str();
    const CLI::Option* keep_1h =
        app.add_option("--usage-retention-1h,--retention-1h", retention_1h,
                       "How long per-hour usage roll-ups are kept (at least the per-minute "
                       "retention)")
            ->envname("RL_USAGE_RETENTION_1H")
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
    app.add_option("--audit-log", audit_log,
                   "Write one JSON line per admin change to this file, or - for stdout "
                   "(default: off)")
        ->envname("RL_AUDIT_LOG");
    app.add_option("--on-storage-error", storage_error_mode,
                   "When usage cannot be written: 'open' admits from memory and writes the "
                   "counts once storage recovers; 'closed' answers 503")
        ->envname("RL_ON_STORAGE_ERROR")
        ->capture_default_str();
    app.add_flag("--shadow", shadow,
                 "Shadow mode for every plan: a request over a limit is answered 200 with "
                 "X-RateLimit-Shadow: limited, kept out of the windows and counted as "
                 "shadow_limited")
        ->envname("RL_SHADOW");

    app.add_option("--cluster-etcd", cluster_etcd,
                   "Cluster mode: etcd client URLs, comma-separated (default: one node, no etcd)")
        ->envname("RL_CLUSTER_ETCD");
    app.add_option("--node-id", node_id,
                   "Cluster mode: this node's id, 1-64 of A-Z a-z 0-9 . _ - (stable: the data "
                   "directory belongs to it)")
        ->envname("RL_NODE_ID");
    app.add_option("--advertise-public", advertise_public,
                   "Cluster mode: the public URL others reach this node at (default: "
                   "http://<--listen>)")
        ->envname("RL_ADVERTISE_PUBLIC");
    app.add_option("--advertise-admin", advertise_admin,
                   "Cluster mode: the admin URL other nodes reach this node at (default: "
                   "http://<--admin-listen>)")
        ->envname("RL_ADVERTISE_ADMIN");
    app.add_option("--handback-after", handback_after,
                   "Cluster mode: membership age after which a node takes back the groups it "
                   "ranks first for, one at a time")
        ->envname("RL_HANDBACK_AFTER")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return {std::nullopt, app.exit(e)};
    } catch (const CLI::ParseError& e) {
        throw config_error(e.what());
    }
    read_old_env(keep_1s, {"RL_USAGE_RETENTION"}, retention_1s);
    read_old_env(keep_1m, {"RL_RETENTION_1M"}, retention_1m);
    read_old_env(keep_1h, {"RL_RETENTION_1H"}, retention_1h);

    config cfg;
    cfg.shadow = shadow;
    cfg.listen = parse_endpoint(listen, "--listen");
    cfg.admin_listen = parse_endpoint(admin_listen, "--admin-listen");
    if (data_dir.empty()) throw config_error("--data-dir: must not be empty");
    cfg.data_dir = data_dir;
    const auto limit = admin::parse_limit(default_limit);
    if (!limit)
        throw config_error(fmt::format("--default-limit: '{}' is not a whole number from 1 to {}",
                                       default_limit, admin::max_limit));
    cfg.default_limit = *limit;
    if (threads < 0 || threads > 256)
        throw config_error(fmt::format("--threads: {} is not between 0 and 256", threads));
    cfg.threads = threads == 0 ? std::max(1u, std::thread::hardware_concurrency())
                               : static_cast<unsigned>(threads);
    const auto keep = common::parse_duration(retention_1s);
    if (!keep || keep->count() < 60)
        throw config_error(
            fmt::format("--usage-retention-1s: '{}' is not a duration of at least 1m "
                        "(e.g. 48h, 7d)",
                        retention_1s));
    cfg.usage_retention_1s = *keep;
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
    if (!audit_log.empty()) cfg.audit_log = audit_log;
    cfg.usage_retention_1m = rollup_retention("--usage-retention-1m", retention_1m,
                                              cfg.usage_retention_1s, "--usage-retention-1s");
    cfg.usage_retention_1h = rollup_retention("--usage-retention-1h", retention_1h,
                                              cfg.usage_retention_1m, "--usage-retention-1m");
    if (storage_error_mode == to_string(on_storage_error::open))
        cfg.on_storage_error = on_storage_error::open;
    else if (storage_error_mode == to_string(on_storage_error::closed))
        cfg.on_storage_error = on_storage_error::closed;
    else
        throw config_error(
            fmt::format("--on-storage-error: '{}' is not 'open' or 'closed'", storage_error_mode));
    const auto token_from_env = [](const char* name) -> std::optional<std::string> {
        const char* token = std::getenv(name);
        if (!token || !*token) return std::nullopt;
        if (std::string_view(token).size() < 16)
            throw config_error(fmt::format("{}: use at least 16 characters", name));
        return token;
    };
    cfg.admin_token = token_from_env("RL_ADMIN_TOKEN");
    cfg.admin_readonly_token = token_from_env("RL_ADMIN_READONLY_TOKEN");
    if (cfg.admin_token && cfg.admin_token == cfg.admin_readonly_token)
        throw config_error("RL_ADMIN_READONLY_TOKEN: must differ from RL_ADMIN_TOKEN");
    read_cluster(cfg, cluster_etcd, node_id, advertise_public, advertise_admin, handback_after);
    return {cfg, 0};
}

}  // namespace rl::service
