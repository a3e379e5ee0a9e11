#pragma once
// What a listener accepts of one request (URL, fields, body); past it the connection is closed.
// The server and the request fuzzer parse with the same limits.

#include <cstdint>

#include <restinio/all.hpp>

namespace rl::service {

// No public route reads a body. One is still accepted, because a gateway may forward the
// original request's, but only a small one: every open connection may hold this much while its
// request arrives, and --max-connections of them must fit in memory.
inline constexpr std::uint64_t public_max_body = 64 * 1024;

restinio::incoming_http_msg_limits_t message_limits(std::uint64_t max_body);

}  // namespace rl::service
