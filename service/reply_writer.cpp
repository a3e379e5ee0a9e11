#include "service/reply_writer.hpp"

#include <string_view>

#include "service/text.hpp"

namespace rl::service {

// The output strategy of the builder below: the whole response, status line to body, written
// by us into one buffer.
struct whole_response_output_t {};

}  // namespace rl::service

namespace restinio {

// restinio's own builders keep each header field as a pair of std::string (an allocation for
// every name or value past 15 characters: RateLimit-Policy, X-RateLimit-User,
// application/problem+json), then copy the fields into a header string with snprintf for
// Content-Length, and send header and body as two buffers. A /limit reply is known whole when it
// is sent, so this builder takes it as one buffer: one allocation and one iovec per reply.
// restinio's create_response<Output>() is the extension point; the connection, request id and
// keep-alive decision are restinio's, as with any builder.
template <>
class response_builder_t<rl::service::whole_response_output_t> final
    : public base_response_builder_t<response_builder_t<rl::service::whole_response_output_t>> {
public:
    using base_type_t =
        base_response_builder_t<response_builder_t<rl::service::whole_response_output_t>>;
    using base_type_t::base_type_t;
    response_builder_t(response_builder_t&&) = default;

    // Whether the connection stays open after this reply (the request's framing decides).
    bool keep_alive() const noexcept { return m_header.should_keep_alive(); }

    // Sends `whole`, whose first `status_line_size` bytes are the status line without its CRLF.
    request_handling_status_t done(std::string whole, std::size_t status_line_size) {
        if (!m_connection) throw_done_must_be_called_once();
        const response_output_flags_t flags{response_parts_attr_t::final_parts,
                                            response_connection_attr(keep_alive())};
        writable_items_container_t items;
        items.emplace_back(std::move(whole));
        write_group_t group{std::move(items)};
        // Non-zero: restinio starts a new response here rather than appending to the last one.
        group.status_line_size(status_line_size);
        auto connection = std::move(m_connection);
        connection->write_response_parts(m_request_id, flags, std::move(group));
        return request_accepted();
    }
};

}  // namespace restinio

namespace rl::service {

restinio::request_handling_status_t send(const restinio::request_handle_t& req, http_reply reply) {
    // restinio's status line carries no text here: the reason phrase is written below.
    auto response = req->create_response<whole_response_output_t>(
        restinio::http_status_line_t{restinio::http_status_code_t{0}, std::string()});
    const std::string_view reason = reason_phrase(reply.status);
    const bool keep_alive = response.keep_alive();
    // HEAD: the headers GET would get, Content-Length included, and no body.
    const bool with_body = req->header().method() != restinio::http_method_head();

    // 96: the status code and the fixed text of the lines below.
    text out(96 + reason.size() + reply.content_type.size() + reply.headers.wire().size() +
             reply.body.size());
    out << "HTTP/1.1 " << reply.status << " " << reason;
    const std::size_t status_line_size = out.size();
    out << (keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n");
    out << "Content-Length: " << static_cast<long long>(reply.body.size()) << "\r\n";
    out << "Content-Type: " << reply.content_type << "\r\n";
    out << reply.headers.wire() << "\r\n";
    if (with_body) out << reply.body;
    return response.done(out.take(), status_line_size);
}

int send_limit_reply(const restinio::request_handle_t& req, http_reply reply) {
    adapt_to_mode(reply, req->header());
    const int status = reply.status;
    send(req, std::move(reply));
    return status;
}

}  // namespace rl::service
