#pragma once
// The public listener on the workers' io_context, the admin listener on one of its own.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <future>

#include <restinio/all.hpp>

#include "service/admin_server.hpp"
#include "service/config.hpp"
#include "service/group_commit.hpp"
#include "service/limit_handler.hpp"
#include "service/limit_observer.hpp"
#include "service/ready_socket.hpp"
#include "service/reply_writer.hpp"
#include "service/request_limits.hpp"
#include "service/usage_recorder.hpp"

namespace rl::service {

// The io_context, with a way to destroy the handlers still queued in it (connections waiting
// for a read) before the listeners they refer to are gone: by default that happens only in the
// io_context's destructor, after the listeners' connection limiter was freed.
class event_loop : public asio::io_context {
public:
    void drop_pending() { shutdown(); }
};

// Past the connection cap restinio stops accepting; further clients wait in the listen backlog.
template <typename Traits>
struct capped_traits : Traits {
    static constexpr bool use_connection_count_limiter = true;
};

// The public listener reads a socket again only once it may have bytes (service/ready_socket.hpp).
template <typename Traits>
struct public_traits : capped_traits<Traits> {
    using stream_socket_t = ready_socket;
};

// One public request: answered from the event loop at once (a 429's count tallied, written within
// a second), or (an admit) queued for its usage write.
restinio::request_handling_status_t serve_public(asio::io_context& io, limit_handler& limit,
                                                 group_commit& commit, limit_observer& observer,
                                                 restinio::request_handle_t req);

// One admin request, through the admin server's token check and API.
restinio::request_handling_status_t serve_admin(const admin_server& admin,
                                                const restinio::request_handle_t& req);

// With one worker thread the cheaper strand-free traits are safe.
template <typename Traits>
class listeners {
public:
    using public_server_t = restinio::http_server_t<public_traits<Traits>>;
    using admin_server_t = restinio::http_server_t<capped_traits<Traits>>;

    listeners(asio::io_context& io, asio::io_context& admin_io, const config& cfg,
              limit_handler& limit, usage_recorder& usage, limit_observer& observer,
              const admin_server& admin)
        : commit_(io, limit, usage,
                  [&observer](const restinio::request_handle_t& req, const limit_result& settled,
                              group_commit::clock::time_point started,
                              group_commit::clock::time_point written_at) {
                      observer.replied(req, settled, send_limit_reply(req, render(settled)),
                                       started, written_at);
                  }),
          public_(
              restinio::external_io_context(io),
              settings<public_traits<Traits>>(cfg.listen, public_max_body, cfg.max_connections,
                                              cfg.idle_timeout, public_pipelined)
                  .request_handler([this, &io, &limit, &observer](restinio::request_handle_t req) {
                      return serve_public(io, limit, commit_, observer, std::move(req));
                  })),
          admin_(restinio::external_io_context(admin_io),
                 settings<capped_traits<Traits>>(cfg.admin_listen, 64 << 20, admin_max_connections,
                                                 std::chrono::seconds(60), admin_pipelined)
                     .request_handler([&admin](restinio::request_handle_t req) {
                         return serve_admin(admin, req);
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

    // Once the event loop has stopped: the usage counts still queued (group_commit::drain).
    void drain() { commit_.drain(); }

private:
    // The admin port is on loopback and used by rlctl; a fixed cap is enough there.
    static constexpr std::size_t admin_max_connections = 1024;

    // Requests in handling at once per connection. Past 1, restinio hands a pipelined request to
    // the handler before the one ahead of it is answered, so a request behind `Connection: close`
    // would be decided and counted yet never answered (RFC 9112 9.6), and every request would
    // start a read that fails, the client still waiting for its reply. At 1 the next request is
    // read (from the buffer, when pipelined) once the reply ahead of it is written; restinio
    // then must not get a reply from inside the handler call (see serve_public). Admin replies
    // are written from inside it, which ends a connection's reading at once after a close.
    static constexpr std::size_t public_pipelined = 1;
    static constexpr std::size_t admin_pipelined = 64;

    // restinio times "wait for the next whole request" with one timer, so the idle timeout
    // bounds idle keep-alive connections and slowly sent requests (slowloris) alike.
    template <typename T>
    static restinio::server_settings_t<T> settings(const endpoint& where, std::uint64_t max_body,
                                                   std::size_t max_connections,
                                                   std::chrono::seconds idle_timeout,
                                                   std::size_t max_pipelined) {
        restinio::server_settings_t<T> s;
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
            .max_pipelined_requests(max_pipelined)
            .incoming_http_msg_limits(message_limits(max_body));
        return s;
    }

    template <typename Server>
    static void open_one(Server& server) {
        std::promise<void> opened;
        server.open_async([&] { opened.set_value(); },
                          [&](std::exception_ptr e) { opened.set_exception(e); });
        opened.get_future().get();
    }

    template <typename Server>
    static void close_one(Server& server) {
        std::promise<void> closed;
        server.close_async([&] { closed.set_value(); },
                           [&](std::exception_ptr) { closed.set_value(); });
        closed.get_future().wait();
    }

    group_commit commit_;  // first: the public listener's handler uses it
    public_server_t public_;
    admin_server_t admin_;
};

}  // namespace rl::service
