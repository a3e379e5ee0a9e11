#pragma once
// Every status, header and body the public port answers, in one place: the reply to each
// /limit outcome, /healthz, /readyz, 404, and the auth-request adaptation for gateways.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <restinio/all.hpp>

#include "service/limit_handler.hpp"

namespace rl::service {

// Content types and header names are fixed text (string literals), never built per reply.
struct http_reply {
    int status = 200;
    std::string_view content_type;
    std::vector<std::pair<std::string_view, std::string>> headers;
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
