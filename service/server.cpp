#include "service/server.hpp"

#include <fmt/format.h>
#include <restinio/all.hpp>

#include <arpa/inet.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <unordered_map>

#include "admin/admin_api.hpp"
#include "admin/catalog.hpp"
#include "common/version.hpp"
#include "service/access_log.hpp"
#include "service/admin_server.hpp"
#include "service/group_commit.hpp"
#include "service/key_index.hpp"
#include "service/limit_handler.hpp"
#include "service/limit_observer.hpp"
#include "service/metrics.hpp"
#include "service/public_routes.hpp"
#include "service/reply_writer.hpp"
#include "service/storage_recovery.hpp"
#include "service/systemd_notify.hpp"
#include "service/usage_recorder.hpp"
#include "service/usage_upkeep.hpp"
#include "storage/store.hpp"

namespace rl::service {

namespace {

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
    fmt::print(stderr, "ratelimitd: {}\n", fmt::format(format, std::forward<Args>(args)...));
}

std::optional<std::string_view> header(const restinio::request_handle_t& req,
                                       std::string_view name) {
    if (const std::string* value = req->header().try_get_field(name))
        return std::string_view(*value);
    return std::nullopt;
}

// Every admit counted in the last two wall-clock seconds is put back into the limiter at the
// latest moment it could have happened, so a restart (even after kill -9) never hands out
// quota: at worst a user is held back for up to one extra second.
class recent_usage {
public:
    explicit recent_usage(const storage::store& store)
        : wall_(std::chrono::system_clock::now()), mono_(std::chrono::steady_clock::now()) {
        const common::unix_seconds second =
            std::chrono::duration_cast<std::chrono::seconds>(wall_.time_since_epoch()).count();
        // A little past now too, in case the wall clock stepped back across the restart.
        store.for_each_usage(second - 1, second + 5, [&](const storage::usage_bucket& b) {
            if (b.count.allowed > 0) admits_[b.key_id].push_back(b);
        });
    }

    void restore(const storage::key_record& key, const user_entry& user,
                 limiter::sliding_window_limiter& limiter) const {
        const auto it = admits_.find(key.key_id);
        if (it == admits_.end()) return;
        for (const auto& bucket : it->second) {
            const auto latest = std::min(wall_, std::chrono::system_clock::time_point(
                                                    std::chrono::seconds(bucket.second + 1)));
            const auto at = mono_ - (wall_ - latest);
            const auto count = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(bucket.count.allowed, UINT32_MAX));
            limiter.restore(user.id, user.limit.load(), count,
                            std::chrono::time_point_cast<limiter::time_point::duration>(at));
        }
    }

private:
    std::chrono::system_clock::time_point wall_;
    std::chrono::steady_clock::time_point mono_;
    std::unordered_map<std::uint64_t, std::vector<storage::usage_bucket>> admits_;
};

// Both listeners share one io_context and its worker threads. With one thread the cheaper
// strand-free traits are safe.
template <typename Traits>
class listeners {
public:
    using server_t = restinio::http_server_t<Traits>;

    listeners(asio::io_context& io, const config& cfg, limit_handler& limit, group_commit& commit,
              limit_observer& observer, const admin_server& admin)
        : public_(
              restinio::external_io_context(io),
              settings(cfg.listen, public_max_body, cfg.max_connections, cfg.idle_timeout)
                  .request_handler([&limit, &commit, &observer](restinio::request_handle_t req) {
                      return serve_public(limit, commit, observer, std::move(req));
                  })),
          admin_(
              restinio::external_io_context(io),
              settings(cfg.admin_listen, 64 << 20, admin_max_connections, std::chrono::seconds(60))
                  .request_handler([&admin](restinio::request_handle_t req) {
                      return send(req, admin.handle(req->header().method().c_str(),
                                                    req->header().path(), req->header().query(),
                                                    header(req, "Authorization"), req->body()));
                  })) {}

    // Throws if a listener cannot bind.
    void open() {
        open_one(public_);
        open_one(admin_);
    }

    void close() {
        close_one(public_);
        close_one(admin_);
    }

private:
    // The admin port is on loopback and used by rlctl; a fixed cap is enough there.
    static constexpr std::size_t admin_max_connections = 1024;

    // restinio times "wait for the next whole request" with one timer, so the idle timeout
    // bounds idle keep-alive connections and slowly sent requests (slowloris) alike.
    static restinio::server_settings_t<Traits> settings(const endpoint& where,
                                                        std::uint64_t max_body,
                                                        std::size_t max_connections,
                                                        std::chrono::seconds idle_timeout) {
        restinio::server_settings_t<Traits> s;
        s.address(where.host)
            .port(where.port)
            .max_parallel_connections(max_connections)
            // Pipelined replies go out as they are ready, not held back for the client's ACK.
            .socket_options_setter([](restinio::socket_options_t& options) {
                options.set_option(asio::ip::tcp::no_delay{true});
            })
            .read_next_http_message_timelimit(idle_timeout)
            .write_http_response_timelimit(std::chrono::seconds(10))
            .handle_request_timeout(std::chrono::seconds(10))
            .max_pipelined_requests(64)
            .incoming_http_msg_limits(message_limits(max_body));
        return s;
    }

    static restinio::request_handling_status_t serve_public(limit_handler& limit,
                                                            group_commit& commit,
                                                            limit_observer& observer,
                                                            restinio::request_handle_t req) {
        const auto started = std::chrono::steady_clock::now();
        public_answer answer = answer_public(limit, req->header(), started, common::wall_now());
        if (!answer.is_limit) return send(req, std::move(*answer.reply));
        if (!answer.reply) {
            commit.submit(std::move(req), answer.decision, started);  // answered once in the WAL
            return restinio::request_accepted();
        }
        const int status = send_limit_reply(req, std::move(*answer.reply));
        observer.replied(req, answer.decision, status, started, std::chrono::steady_clock::now());
        return restinio::request_accepted();
    }

    static void open_one(server_t& server) {
        std::promise<void> opened;
        server.open_async([&] { opened.set_value(); },
                          [&](std::exception_ptr e) { opened.set_exception(e); });
        opened.get_future().get();
    }

    static void close_one(server_t& server) {
        std::promise<void> closed;
        server.close_async([&] { closed.set_value(); },
                           [&](std::exception_ptr) { closed.set_value(); });
        closed.get_future().wait();
    }

    server_t public_;
    server_t admin_;
};

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

void write_admin_url(const config& cfg) {
    // rlctl reads this to find a server that holds the directory.
    std::string host = cfg.admin_listen.host;
    if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::ofstream(cfg.data_dir + "/admin.url")
        << fmt::format("http://{}:{}\n", host, cfg.admin_listen.port);
}

// Every second: frees idle limiter windows, folds closed minutes and hours into the usage
// roll-ups and drops usage past its retention (which moves a minute at a time).
class maintenance {
public:
    maintenance(limiter::sliding_window_limiter& limiter, usage_upkeep& usage)
        : thread_([this, &limiter, &usage] {
              std::unique_lock lock(mutex_);
              // While storage fails this would fail every second: one line a minute is enough
              // (the storage recovery logs the fault itself).
              auto next_log = std::chrono::steady_clock::time_point{};
              while (!stopping_) {
                  limiter.forget_idle(std::chrono::steady_clock::now());
                  try {
                      usage.fold(common::wall_now());
                      usage.expire(common::wall_now());
                  } catch (const storage::storage_error& e) {
                      if (std::chrono::steady_clock::now() >= next_log) {
                          log("usage roll-up or expiry failed (retried every second): {}",
                              e.what());
                          next_log = std::chrono::steady_clock::now() + std::chrono::minutes(1);
                      }
                  }
                  wake_.wait_for(lock, std::chrono::seconds(1));
              }
          }) {}

    ~maintenance() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts after the members it uses
};

// The io_context, with a way to destroy the handlers still queued in it (connections waiting
// for a read) before the listeners they refer to are gone: by default that happens only in the
// io_context's destructor, after the listeners' connection limiter was freed (ASan found it).
class event_loop : public asio::io_context {
public:
    void drop_pending() { shutdown(); }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename Traits>
int serve(const config& cfg, storage::store& store, std::chrono::steady_clock::time_point started) {
    std::string token;
    try {
        token = cfg.admin_token ? *cfg.admin_token : load_or_create_admin_token(cfg.data_dir);
    } catch (const std::exception& e) {
        log("{}", e.what());
        return 1;
    }

    key_index keys(cfg.default_limit);
    limiter::sliding_window_limiter limiter;
    usage_recorder usage(store, cfg.storage_errors,
                         [](const std::string& line) { log("{}", line); });
    metrics counters;
    std::atomic<bool> ready{false};
    admin::catalog catalog(store, cfg.default_limit, &keys);
    admin::admin_api api(catalog);
    limit_handler limit(keys, limiter, usage, counters, ready);
    std::unique_ptr<access_log> requests_log;
    if (cfg.access_log) {
        try {
            requests_log = std::make_unique<access_log>(*cfg.access_log);
        } catch (const std::exception& e) {
            log("{}", e.what());
            return 2;
        }
    }
    limit_observer observer(counters, requests_log.get());
    admin_server admin(
        api, token,
        [&] {
            return counters.render(gauges{keys.user_count(), keys.key_count(),
                                          limiter.active_users(), usage.batches(), usage.failures(),
                                          ready.load(), usage.storage_errors(), usage.healthy(),
                                          usage.held_buckets()});
        },
        [&usage](const std::string& error) { usage.storage_failed(error); });

    event_loop io;
    auto work = asio::make_work_guard(io);
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < cfg.threads; ++i) workers.emplace_back([&io] { io.run(); });
    auto stop_workers = [&] {
        work.reset();
        io.stop();
        for (auto& t : workers) t.join();
    };

    group_commit commit(io, limit, usage, observer);
    listeners<Traits> servers(io, cfg, limit, commit, observer, admin);
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
        const recent_usage recent(store);
        keys.load(store, [&](const storage::key_record& key, const user_entry& user) {
            recent.restore(key, user, limiter);
        });
        limiter.reserve(keys.last_user_id());  // every user's window, allocated once
    } catch (const storage::storage_error& e) {
        log("cannot load keys: {}", e.what());
        servers.close();
        stop_workers();
        return 1;
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
        usage_upkeep usage_rollups(
            store, {cfg.usage_retention, cfg.usage_retention_1m, cfg.usage_retention_1h});
        maintenance upkeep(limiter, usage_rollups);
        storage_recovery recovery(usage);
        const int sig = stop_signal.get_future().get();
        log("{} received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        notify_stopping();
        ready = false;
        servers.close();  // stop accepting
        // Replies already queued get a moment to reach the wire before the loop stops.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop_workers();
    io.drop_pending();     // while the listeners those handlers point into still exist
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

// Past the connection cap restinio stops accepting; further clients wait in the listen backlog.
template <typename Traits>
struct capped_traits : Traits {
    static constexpr bool use_connection_count_limiter = true;
};

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
    std::unique_ptr<storage::store> store;
    try {
        store = storage::store::open(cfg.data_dir);
    } catch (const storage::storage_error& e) {
        if (e.code() == storage::storage_errc::locked)
            log("{} is in use by another process (is ratelimitd already running?)", cfg.data_dir);
        else
            log("cannot open data directory: {}", e.what());
        return 1;
    }
    if (cfg.threads == 1)
        return serve<capped_traits<restinio::default_single_thread_traits_t>>(cfg, *store, started);
    return serve<capped_traits<restinio::default_traits_t>>(cfg, *store, started);
}

}  // namespace rl::service
