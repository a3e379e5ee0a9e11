#include "service/reply_writer.hpp"

namespace rl::service {

namespace {

const char* reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 409: return "Conflict";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Unknown";
    }
}

template <typename Builder>
Builder& with_headers(Builder& response, http_reply& reply) {
    response.append_header(restinio::http_field::content_type, std::move(reply.content_type));
    for (auto& [name, value] : reply.headers) response.append_header(name, std::move(value));
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
    if (reply.status >= 300) {
        const std::string* mode = req->header().try_get_field(auth_request_mode_header);
        if (mode && *mode == auth_request_mode) adapt_for_auth_request(reply);
    }
    const int status = reply.status;
    send(req, std::move(reply));
    return status;
}

}  // namespace rl::service
