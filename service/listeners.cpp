#include "service/listeners.hpp"

#include <optional>
#include <string>
#include <string_view>

#include "service/public_routes.hpp"

namespace rl::service {

namespace {

std::optional<std::string_view> header(const restinio::request_handle_t& req,
                                       std::string_view name) {
    if (const std::string* value = req->header().try_get_field(name))
        return std::string_view(*value);
    return std::nullopt;
}

}  // namespace

restinio::request_handling_status_t serve_public(asio::io_context& io, limit_handler& limit,
                                                 group_commit& commit, limit_observer& observer,
                                                 restinio::request_handle_t req) {
    const auto started = std::chrono::steady_clock::now();
    public_answer answer =
        answer_public(limit, req->header(), started, std::chrono::system_clock::now());
    if (!answer.reply) {
        commit.submit(std::move(req), answer.decision, started);  // answered once in the WAL
        return restinio::request_accepted();
    }
    // A 429 or a shadow-limited 200: answered now, its count tallied (written within a second).
    if (answer.decision.needs_usage()) commit.count(answer.decision.usage);
    // From the event loop, after this call returns: with one request in handling per
    // connection, a reply written inside it makes restinio start on the next pipelined
    // request twice (once for the write, once for the return), and the second has no room
    // (restinio then closes the connection).
    asio::post(io, [&observer, req = std::move(req), answer = std::move(answer),
                    started]() mutable {
        if (!answer.is_limit) {
            send(req, std::move(*answer.reply));
            return;
        }
        const int status = send_limit_reply(req, std::move(*answer.reply));
        observer.replied(req, answer.decision, status, started, std::chrono::steady_clock::now());
    });
    return restinio::request_accepted();
}

restinio::request_handling_status_t serve_admin(const admin_server& admin,
                                                const restinio::request_handle_t& req) {
    std::string remote;
    append_remote(remote, req);
    return send(req, admin.handle(req->header().method().c_str(), req->header().path(),
                                  req->header().query(), header(req, "Authorization"), req->body(),
                                  remote));
}

}  // namespace rl::service
