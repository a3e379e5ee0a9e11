#include "service/group_commit.hpp"

namespace rl::service {

void group_commit::submit(restinio::request_handle_t request, const limit_result& result,
                          clock::time_point started) {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(request), result, started});
    schedule_locked();
}

void group_commit::count(const usage_event& usage) {
    usage_.tally(usage);
}

void group_commit::schedule_locked() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    asio::post(io_, [this] { flush(); });
}

void group_commit::drain() {
    std::vector<pending> unanswered;
    {
        std::lock_guard lock(mutex_);
        unanswered.swap(queue_);
        flush_scheduled_ = false;
    }
    usage_.write_tallied();
}

void group_commit::flush() {
    // Swapped out under the lock, written and answered outside it, so requests keep queueing
    // for the next flush meanwhile. Both vectors keep their capacity.
    thread_local std::vector<pending> batch;
    thread_local std::vector<usage_event> events;
    events.clear();
    {
        std::lock_guard lock(mutex_);
        batch.swap(queue_);
        flush_scheduled_ = false;
    }
    for (const pending& p : batch) events.push_back(p.result.usage);
    const usage_write written = usage_.record(events);
    const auto written_at = clock::now();  // one clock read per batch
    for (pending& p : batch)
        send_(p.request, handler_.settle(p.result, written), p.started, written_at);
    batch.clear();
}

}  // namespace rl::service
