#pragma once
// The public listener without the socket: what a parsed request gets. The server and the request
// fuzzer both go through here, so the fuzzer exercises the server's own path.

#include <optional>

#include <restinio/all.hpp>

#include "service/limit_handler.hpp"
#include "service/public_replies.hpp"

namespace rl::service {

struct public_answer {
    std::optional<http_reply> reply;  // the answer, when it is final at once
    bool is_limit = false;  // /limit: timed in the histogram, logged, auth-request mode applies
    limit_result decision;  // /limit's; with no reply yet it waits for its usage write, with one
                            // it may still have a count to queue (needs_usage(): a 429 or a
                            // shadow-limited 200)
};

// Routes /limit (and /limit/<anything>: Envoy's ext_authz appends the original path to its
// prefix), /healthz, /readyz and 404s. Two or more X-API-KEY fields are refused with 400
// rather than one of them being picked: a proxy and a client disagreeing on the key is a bug to
// surface, and "first one wins" would let whoever adds a header choose whose quota is spent.
public_answer answer_public(limit_handler& limit, const restinio::http_request_header_t& request,
                            limiter::time_point now, limiter::wall_time wall);

}  // namespace rl::service
