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

restinio::request_handling_status_t serve_public(limit_handler& limit, group_commit& commit,
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

restinio::request_handling_status_t serve_admin(const admin_server& admin,
                                                const restinio::request_handle_t& req) {
    std::string remote;
    append_remote(remote, req);
    return send(req, admin.handle(req->header().method().c_str(), req->header().path(),
                                  req->header().query(), header(req, "Authorization"), req->body(),
                                  remote));
}

}  // namespace rl::service
