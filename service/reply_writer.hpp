#pragma once
// Copies an http_reply onto a restinio response.

#include <restinio/all.hpp>

#include "service/limit_handler.hpp"

namespace rl::service {

restinio::request_handling_status_t send(const restinio::request_handle_t& req, http_reply reply);

}  // namespace rl::service
