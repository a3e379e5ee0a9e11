#include "service/server.hpp"

#include <fmt/format.h>
#include <restinio/all.hpp>

#include <arpa/inet.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <unordered_map>

#include "admin/admin_api.hpp"
#include "admin/catalog.hpp"
#include "common/data_dir_files.hpp"
#include "common/version.hpp"
#include "service/access_log.hpp"
#include "service/admin_server.hpp"
#include "service/audit_log.hpp"
#include "service/cluster_admin.hpp"
#include "service/cluster_node.hpp"
#include "service/group_seeds.hpp"
#include "service/key_index.hpp"
#include "service/limit_handler.hpp"
#include "service/limit_observer.hpp"
#include "service/listeners.hpp"
#include "service/maintenance.hpp"
#include "service/metrics.hpp"
#include "service/storage_recovery.hpp"
#include "service/systemd_notify.hpp"
#include "service/terms_follower.hpp"
#include "service/usage_recorder.hpp"
#include "service/usage_seeds.hpp"
#include "service/usage_upkeep.hpp"
#include "storage/data_dir.hpp"

namespace rl::service {

namespace {

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
    fmt::print(stderr, "ratelimitd: {}\n", fmt::format(format, std::forward<Args>(args)...));
}

// 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost.
bool is_loopback(const std::string& host) {
    if (host == "localhost") return true;
    in_addr v4{};
    if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (::inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

// An optional log (access, audit): null when off; throws when it cannot be opened.
template <typename Log>
std::unique_ptr<Log> open_if_on(const std::optional<std::string>& path) {
    if (!path) return nullptr;
    return std::make_unique<Log>(*path);
}

void write_admin_url(const config& cfg) {
    // rlctl reads this to find a server that holds the directory.
    std::string host = cfg.admin_listen.host;
    if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::ofstream(common::data_dir_file(cfg.data_dir, common::admin_url_file))
        << fmt::format("http://{}:{}\n", host, cfg.admin_listen.port);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename Traits>
int serve(const config& cfg, storage::data_dir& store,
          std::chrono::steady_clock::time_point started) {
    std::string token;
    std::string readonly_token;
    try {
        token = cfg.admin_token ? *cfg.admin_token
                                : load_or_create_token(cfg.data_dir, common::admin_token_file);
        readonly_token =
            cfg.admin_readonly_token
                ? *cfg.admin_readonly_token
                : load_or_create_token(cfg.data_dir, common::admin_readonly_token_file);
    } catch (const std::exception& e) {
        log("{}", e.what());
        return 1;
    }

    const auto log_line = [](const std::string& line) { log("{}", line); };
    // Cluster mode: the settings every node shares come from etcd, and so does the catalog.
    std::unique_ptr<cluster_node> node;
    std::uint32_t default_limit = cfg.default_limit;
    if (cfg.clustered()) {
        try {
            node = std::make_unique<cluster_node>(cfg, log_line);
        } catch (const config_error& e) {
            log("{}", e.what());
            return 2;
        } catch (const std::exception& e) {
            log("cannot join the cluster: {}", e.what());
            return 1;
        }
        default_limit = node->settings().default_limit;
    }
    key_index keys(default_limit);
    if (node) {
        keys.set_groups(node->settings().groups);
        try {
            log("node {}: loading the catalog from etcd {}", cfg.node_id,
                fmt::join(cfg.cluster_etcd, ","));
            node->open_catalog(store, keys);
        } catch (const std::exception& e) {
            log("cannot load the catalog from etcd: {}", e.what());
            return 1;
        }
    }
    limiter::policy_limiter limiter;
    usage_recorder usage(store, cfg.on_storage_error, log_line);
    metrics counters;
    std::atomic<bool> ready{false};
    admin::local_writer local_catalog(store.catalog(), &keys);
    admin::catalog catalog(store, default_limit, node ? node->writer() : local_catalog);
    admin::admin_api api(catalog);
    // A usage report counts every request answered before it was asked for.
    api.before_usage_reads([&usage] { usage.write_tallied(); });
    limit_handler limit(keys, limiter, usage, counters, ready, cfg.shadow);
    terms_follower follower(keys, limiter, limit, store, log_line);
    keys.on_terms_changed(
        [&follower](const std::vector<terms_change>& changes) { follower.changed(changes); });
    std::unique_ptr<access_log> requests_log;
    std::unique_ptr<audit_log> changes_log;
    try {
        requests_log = open_if_on<access_log>(cfg.access_log);
        changes_log = open_if_on<audit_log>(cfg.audit_log);
    } catch (const std::exception& e) {
        log("{}", e.what());
        return 2;
    }
    limit_observer observer(counters, requests_log.get());
    group_seeds seeds(keys, limiter, store);
    std::unique_ptr<cluster_admin> cluster_routes;
    admin_server admin(
        api, token, readonly_token,
        [&] {
            return counters.render(
                gauges{keys.user_count(), keys.key_count(), limiter.active_users(), usage.batches(),
                       usage.failures(), ready.load(), usage.storage_errors(), usage.healthy(),
                       usage.held_buckets(), node ? node->metrics_gauges() : std::nullopt});
        },
        changes_log.get());

    if (node) {
        // Before the admin listener opens; its routes answer 503 until the node has joined.
        cluster_routes = std::make_unique<cluster_admin>(*node, api, seeds, token);
        admin.extend([&routes = *cluster_routes](const admin::api_request& request) {
            return routes.handle(request);
        });
    }

    event_loop io;
    // The admin API on a loop and thread of its own: a call that waits (a backup, a change
    // acknowledged by every cluster node, a drain) never holds up /limit or /readyz.
    event_loop admin_io;
    auto work = asio::make_work_guard(io);
    auto admin_work = asio::make_work_guard(admin_io);
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < cfg.threads; ++i) workers.emplace_back([&io] { io.run(); });
    workers.emplace_back([&admin_io] { admin_io.run(); });
    auto stop_workers = [&] {
        work.reset();
        admin_work.reset();
        io.stop();
        admin_io.stop();
        for (auto& t : workers) t.join();
    };

    listeners<Traits> servers(io, admin_io, cfg, limit, usage, observer, admin);
    try {
        servers.open();
    } catch (const std::exception& e) {
        log("cannot listen on {}:{} / {}:{}: {}", cfg.listen.host, cfg.listen.port,
            cfg.admin_listen.host, cfg.admin_listen.port, e.what());
        stop_workers();
        return 1;
    }
    write_admin_url(cfg);
    if (!is_loopback(cfg.admin_listen.host))
        log("WARNING: the admin API listens on {}:{}, which is not loopback: anyone who can reach "
            "it and holds the token controls every user and key. Keep it on 127.0.0.1 unless a "
            "firewall or private network guards it.",
            cfg.admin_listen.host, cfg.admin_listen.port);

    // Signals are caught before loading so a stop during a long load is still clean.
    std::promise<int> stop_signal;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const std::error_code& ec, int sig) {
        if (!ec) stop_signal.set_value(sig);
    });

    log("loading users and keys from {}", cfg.data_dir);
    try {
        // Keys first, then their usage: every window starts from what usage holds in it.
        std::unordered_map<std::uint64_t, limiter::user_id> owners;
        std::unordered_map<limiter::user_id, const terms*> terms_of;
        seed_needs needs;
        keys.load(store.catalog(), [&](const storage::key_record& key, const user_entry& user) {
            owners.emplace(key.key_id, user.id);
            const terms* t = user.terms.load();
            if (terms_of.emplace(user.id, t).second) needs.add(t->policy);
        });
        const auto wall = std::chrono::system_clock::now();
        const auto now = std::chrono::steady_clock::now();
        const seed_builder seeds = read_seeds(store, owners, needs, wall, true);
        for (const auto& [user, seed] : seeds.seeds())
            limiter.restore(user, terms_of.at(user)->policy, seed, now, wall);
        limiter.reserve(keys.last_user_id());  // every user's window, allocated once
    } catch (const storage::storage_error& e) {
        log("cannot load keys: {}", e.what());
        servers.close();
        stop_workers();
        return 1;
    }
    // The cluster is joined before `ready` is set: decisions read the ownership only after
    // reading `ready`.
    if (node) {
        try {
            node->start(limit, seeds, token);
        } catch (const std::exception& e) {
            log("cannot join the cluster: {}", e.what());
            servers.close();
            stop_workers();
            return 1;
        }
        log("node {} joined: {} groups, lease {} ms, fence {} ms, advertised {} / {}", cfg.node_id,
            node->settings().groups, node->settings().lease_ttl.count(),
            node->settings().fence.count(), cfg.advertise_public, cfg.advertise_admin);
    }
    ready = true;
    log("ready in {:.2f} s: version {} (git {}), public {}:{}, admin {}:{}, data {}, {} users, "
        "{} keys, {} thread(s), access log {}",
        seconds_since(started), common::version(), common::revision(), cfg.listen.host,
        cfg.listen.port, cfg.admin_listen.host, cfg.admin_listen.port, cfg.data_dir,
        keys.user_count(), keys.key_count(), cfg.threads, cfg.access_log.value_or("off"));
    notify_ready(fmt::format("serving {} users, {} keys", keys.user_count(), keys.key_count()));

    int exit_code = 0;
    {
        usage_upkeep usage_rollups(store.usage(), {cfg.usage_retention_1s, cfg.usage_retention_1m,
                                                   cfg.usage_retention_1h});
        maintenance upkeep(limiter, usage, usage_rollups, log_line);
        storage_recovery recovery(usage);
        const int sig = stop_signal.get_future().get();
        log("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        notify_stopping();
        // Groups first (each released after the fence), while the listeners still answer
        // not-owner for the balancer to retry elsewhere.
        if (node) node->stop();
        ready = false;
        servers.close();  // stop accepting
        // Replies already queued get a moment to reach the wire before the loop stops.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop_workers();
    servers.drain();
    io.drop_pending();  // while the listeners those handlers point into still exist
    admin_io.drop_pending();
    if (!usage.recover())  // one last try for counts held while storage failed
        log("storage still failing at exit: {} held usage buckets are lost", usage.held_buckets());
    try {
        store.flush();
    } catch (const storage::storage_error& e) {
        log("final flush failed: {}", e.what());
        exit_code = 1;
    }
    log("stopped after {:.1f} s up, {} /limit requests answered; exit {}", seconds_since(started),
        counters.latency_count(), exit_code);
    return exit_code;
}

}  // namespace

int run(const config& cfg) {
    // A data directory that cannot be a directory is a configuration error, like a bad flag.
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    if (ec || !std::filesystem::is_directory(cfg.data_dir) ||
        ::access(cfg.data_dir.c_str(), W_OK) != 0) {
        log("--data-dir: {} is not a writable directory{}", cfg.data_dir,
            ec ? " (" + ec.message() + ")" : "");
        return 2;
    }
    const auto started = std::chrono::steady_clock::now();
    std::unique_ptr<storage::data_dir> store;
    try {
        store = storage::data_dir::open(cfg.data_dir);
    } catch (const storage::storage_error& e) {
        if (e.code() == storage::storage_errc::locked)
            log("{} is in use by another process (is ratelimitd already running?)", cfg.data_dir);
        else
            log("cannot open data directory: {}", e.what());
        return 1;
    }
    if (cfg.threads == 1)
        return serve<restinio::default_single_thread_traits_t>(cfg, *store, started);
    return serve<restinio::default_traits_t>(cfg, *store, started);
}

}  // namespace rl::service
