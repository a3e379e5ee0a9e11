#include "service/reply_writer.hpp"

namespace rl::service {

namespace {

template <typename Builder>
Builder& with_headers(Builder& response, http_reply& reply) {
    response.append_header(restinio::http_field::content_type, std::move(reply.content_type));
    for (auto& [name, value] : reply.headers)
        response.append_header(std::move(name), std::move(value));
    return response;
}

}  // namespace

restinio::request_handling_status_t send(const restinio::request_handle_t& req, http_reply reply) {
    const restinio::http_status_line_t status{
        restinio::http_status_code_t{static_cast<std::uint16_t>(reply.status)},
        reason_phrase(reply.status)};
    if (req->header().method() == restinio::http_method_head()) {
        // HEAD: the headers GET would get, Content-Length included, and no body.
        auto response = req->create_response<restinio::user_controlled_output_t>(status);
        with_headers(response, reply).set_content_length(reply.body.size());
        return response.done();
    }
    auto response = req->create_response(status);
    with_headers(response, reply).set_body(std::move(reply.body));
    return response.done();
}

int send_limit_reply(const restinio::request_handle_t& req, http_reply reply) {
    adapt_to_mode(reply, req->header());
    const int status = reply.status;
    send(req, std::move(reply));
    return status;
}

}  // namespace rl::service
