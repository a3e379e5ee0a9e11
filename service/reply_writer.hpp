#pragma once
// Copies an http_reply onto a restinio response.

#include <restinio/all.hpp>

#include "service/limit_handler.hpp"

namespace rl::service {

restinio::request_handling_status_t send(const restinio::request_handle_t& req, http_reply reply);

// send() for a /limit reply: adapted first when the request asks for auth-request mode (looked
// up only for non-2xx replies, so admits pay nothing). Returns the status sent.
int send_limit_reply(const restinio::request_handle_t& req, http_reply reply);

}  // namespace rl::service
