#include "service/reply_writer.hpp"

namespace rl::service {

namespace {

const char* reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 409:
            return "Conflict";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        default:
            return "Unknown";
    }
}

}  // namespace

restinio::request_handling_status_t send(const restinio::request_handle_t& req, http_reply reply) {
    auto response = req->create_response(restinio::http_status_line_t{
        restinio::http_status_code_t{static_cast<std::uint16_t>(reply.status)},
        reason_phrase(reply.status)});
    response.append_header(restinio::http_field::content_type, std::move(reply.content_type));
    for (auto& [name, value] : reply.headers) response.append_header(name, std::move(value));
    response.set_body(std::move(reply.body));
    return response.done();
}

}  // namespace rl::service
