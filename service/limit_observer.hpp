#pragma once
// What follows a /limit reply once it is handed to the socket: its latency goes into the
// histogram and, when the access log is on, a line goes to the log.

#include <chrono>

#include <restinio/all.hpp>

#include "service/access_log.hpp"
#include "service/limit_handler.hpp"
#include "service/metrics.hpp"

namespace rl::service {

// "ip:port", or "[ip]:port" for IPv6, appended to `out`: how both logs name the client.
void append_remote(std::string& out, const restinio::request_handle_t& req);

class limit_observer {
public:
    limit_observer(metrics& metrics, access_log* log) : metrics_(metrics), log_(log) {}

    // `started` is when the request was read (the clock read decide() was given).
    void replied(const restinio::request_handle_t& req, const limit_result& result, int status,
                 std::chrono::steady_clock::time_point started,
                 std::chrono::steady_clock::time_point now) noexcept {
        metrics_.observe_latency(now - started);
        if (log_) log(req, result, status, now - started);
    }

private:
    void log(const restinio::request_handle_t& req, const limit_result& result, int status,
             std::chrono::nanoseconds took) noexcept;

    metrics& metrics_;
    access_log* log_;  // null: off
};

}  // namespace rl::service
