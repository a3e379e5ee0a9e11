#pragma once
// Copies an http_reply onto a restinio response.

#include <restinio/all.hpp>

#include "service/public_replies.hpp"

namespace rl::service {

restinio::request_handling_status_t send(const restinio::request_handle_t& req, http_reply reply);

// send() for a /limit reply, adapted first to the mode the request asks for (adapt_to_mode).
// Returns the status sent.
int send_limit_reply(const restinio::request_handle_t& req, http_reply reply);

}  // namespace rl::service
