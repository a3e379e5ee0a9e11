#include "service/limit_observer.hpp"

#include <fmt/format.h>

#include "service/key_index.hpp"

namespace rl::service {

void append_remote(std::string& out, const restinio::request_handle_t& req) {
    const auto& remote = req->remote_endpoint();
    if (remote.address().is_v6())
        fmt::format_to(std::back_inserter(out), "[{}]:{}", remote.address().to_string(),
                       remote.port());
    else
        fmt::format_to(std::back_inserter(out), "{}:{}", remote.address().to_string(),
                       remote.port());
}

void limit_observer::log(const restinio::request_handle_t& req, const limit_result& result,
                         int status, std::chrono::nanoseconds took) noexcept {
    try {
        thread_local std::string remote_text;
        remote_text.clear();
        append_remote(remote_text, req);
        access_entry entry;
        entry.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        entry.remote = remote_text;
        entry.method = req->header().method().c_str();
        entry.path = req->header().path();
        entry.status = status;
        entry.outcome = result.outcome;
        entry.key_id = result.usage.key_id;
        if (result.user) entry.user = result.user->name;
        entry.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
        log_->write(entry);
    } catch (...) {  // a lost log line never fails the request
    }
}

}  // namespace rl::service
