#pragma once
// Every status, header and body the public port answers, in one place: the reply to each
// /limit outcome, /healthz, /readyz, 404, and the auth-request adaptation for gateways.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <restinio/all.hpp>

#include "service/limit_handler.hpp"
#include "service/text.hpp"

namespace rl::service {

// A reply's own header fields, kept as the lines they are sent as ("Name: value\r\n") in one
// buffer: a field costs a copy into it, not a string and a vector slot of its own. Names are
// fixed text; values never hold CR or LF.
class header_fields {
public:
    // Each field's name and value, in the order added.
    class const_iterator {
    public:
        using value_type = std::pair<std::string_view, std::string_view>;
        explicit const_iterator(std::string_view rest) : rest_(rest) { parse(); }
        const value_type& operator*() const noexcept { return field_; }
        const value_type* operator->() const noexcept { return &field_; }
        const_iterator& operator++() {
            rest_.remove_prefix(line_size_);
            parse();
            return *this;
        }
        bool operator!=(const const_iterator& other) const noexcept {
            return rest_.size() != other.rest_.size();
        }

    private:
        void parse();
        std::string_view rest_;  // this line and those after it
        value_type field_;
        std::size_t line_size_ = 0;
    };

    header_fields() = default;
    header_fields(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

    void add(std::string_view name, std::string_view value) {
        add_with(name, [&](text& out) { out << value; });
    }
    // A value written in pieces: `write(text&)` appends it.
    template <typename Write>
    void add_with(std::string_view name, Write&& write) {
        lines_ << name << ": ";
        write(lines_);
        lines_ << "\r\n";
    }

    // The first field of that name (names compared exactly, as they are all ours).
    std::optional<std::string_view> find(std::string_view name) const;
    std::size_t size() const {
        std::size_t fields = 0;
        for (auto it = begin(); it != end(); ++it) ++fields;
        return fields;
    }
    bool empty() const noexcept { return lines_.size() == 0; }
    // The lines as sent, each ending in CRLF.
    std::string_view wire() const noexcept { return lines_.view(); }
    const_iterator begin() const { return const_iterator(lines_.view()); }
    const_iterator end() const { return const_iterator(std::string_view()); }

private:
    text lines_;
};

// Content types and header names are fixed text (string literals), never built per reply.
struct http_reply {
    int status = 200;
    std::string_view content_type;
    header_fields headers;
    std::string body;
};

// The status, headers and body for a /limit result; never mentions the key.
http_reply render(const limit_result& result);

// /healthz (on both ports): the process is up.
http_reply health_reply();

// /readyz: 200 once ready, else a 503 saying whether keys are loading or storage is failing.
http_reply readiness_reply(readiness state);

// /readyz?group=G (cluster mode, HAProxy's health check of a group's backend): 200 only while
// this node admits group G; 503 not-owner otherwise, 400 for a query that names no group.
http_reply group_readiness_reply(const limit_handler& limit, std::string_view query);

// Any other path on the public port.
http_reply not_found_reply();

// A problem+json reply (RFC 9457). Callers pass fixed text or validated user names, so nothing
// here needs JSON escaping.
http_reply problem_reply(int status, std::string_view type, std::string_view title,
                         std::string_view detail);

// nginx auth_request passes on only 2xx, 401 and 403 (anything else becomes a 500). A caller
// that sends `X-RateLimit-Mode: auth-request` gets every other status as 403, and every non-2xx
// status in X-RateLimit-Status, for the gateway to restore it (deploy/nginx/ratelimitd.conf).
inline constexpr std::string_view auth_request_mode_header = "X-RateLimit-Mode";
inline constexpr std::string_view auth_request_mode = "auth-request";
void adapt_for_auth_request(http_reply& reply);

// adapt_for_auth_request when the request asks for that mode; the field is looked up only for
// non-2xx replies, so admits pay nothing.
void adapt_to_mode(http_reply& reply, const restinio::http_request_header_t& request);

// The status line's text for the statuses either port sends.
const char* reason_phrase(int status);

}  // namespace rl::service
