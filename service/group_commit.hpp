#pragma once
// Group commit for /limit: requests decided close together share one usage write, and each
// admit is answered only once the write that counts it is in the WAL. A 429 or a shadow-limited
// 200 is answered at once; its count is tallied (usage_recorder::tally) and written within about
// a second.

#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include <restinio/all.hpp>

#include "service/limit_handler.hpp"
#include "service/usage_recorder.hpp"

namespace rl::service {

class group_commit {
public:
    using clock = std::chrono::steady_clock;
    // Answers one request with its settled result; `written_at` is when its batch was written.
    using reply_sender =
        std::function<void(const restinio::request_handle_t& request, const limit_result& settled,
                           clock::time_point started, clock::time_point written_at)>;

    group_commit(asio::io_context& io, limit_handler& handler, usage_recorder& usage,
                 reply_sender send)
        : io_(io), handler_(handler), usage_(usage), send_(std::move(send)) {}

    // Queues an admitted request; the first thing queued schedules a flush on the event loop,
    // which runs after the requests already read in this turn of the loop have joined it.
    // `started` is when the request was read, for the latency histogram.
    void submit(restinio::request_handle_t request, const limit_result& result,
                clock::time_point started);

    // Tallies the count of a request already answered (a 429, a shadow-limited 200).
    void count(const usage_event& usage);

    // Once the event loop has stopped: writes the tallied counts of answered requests. Admits
    // still waiting were never answered, so they are dropped uncounted.
    void drain();

private:
    struct pending {
        restinio::request_handle_t request;
        limit_result result;
        clock::time_point started;
    };
    void flush();
    void schedule_locked();

    asio::io_context& io_;
    limit_handler& handler_;
    usage_recorder& usage_;
    reply_sender send_;
    std::mutex mutex_;
    std::vector<pending> queue_;
    bool flush_scheduled_ = false;
};

}  // namespace rl::service
