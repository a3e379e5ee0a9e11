#include "service/usage_recorder.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rl::service {

namespace {

// One bucket per (second, key) instead of one per request: fewer memtable entries.
void sum_per_bucket(const std::vector<usage_event>& events,
                    std::vector<storage::usage_bucket>& buckets) {
    buckets.clear();
    for (const usage_event& e : events) buckets.push_back({e.second, e.key_id, count_of(e.kind)});
    std::sort(buckets.begin(), buckets.end(), [](const auto& a, const auto& b) {
        return a.start != b.start ? a.start < b.start : a.key_id < b.key_id;
    });
    std::size_t out = 0;
    for (std::size_t i = 1; i < buckets.size(); ++i) {
        if (buckets[i].start == buckets[out].start && buckets[i].key_id == buckets[out].key_id)
            buckets[out].count += buckets[i].count;
        else
            buckets[++out] = buckets[i];
    }
    buckets.resize(out + 1);
}

const char* consequence(on_storage_error mode) {
    return mode == on_storage_error::open
               ? "limits are enforced from memory and usage counts are held until it recovers "
                 "(--on-storage-error=open)"
               : "admits are refused with 503 until it recovers (--on-storage-error=closed)";
}

}  // namespace

usage_recorder::usage_recorder(storage::data_dir& data, on_storage_error mode, log_line log,
                               std::size_t max_held, clock::duration log_every, now_fn now)
    : data_(data),
      mode_(mode),
      log_(std::move(log)),
      max_held_(max_held),
      log_every_(log_every),
      now_(std::move(now)) {
    data_.health().listen([this](const std::string& error) { storage_failed(error); });
}

usage_recorder::~usage_recorder() {
    data_.health().listen({});
}

usage_write usage_recorder::record(const std::vector<usage_event>& events) noexcept {
    if (events.empty()) return usage_write::written;
    try {
        // Reused per thread: no allocation once warm.
        thread_local std::vector<storage::usage_bucket> buckets;
        sum_per_bucket(events, buckets);
        return write(buckets);
    } catch (...) {  // allocation failure: treated like a refused write
        failures_.fetch_add(1, std::memory_order_relaxed);
        return usage_write::refused;
    }
}

void usage_recorder::tally(const usage_event& event) {
    std::lock_guard lock(tally_mutex_);
    tallied_[{event.second, event.key_id}] += count_of(event.kind);
}

usage_write usage_recorder::write_tallied() noexcept {
    try {
        bucket_table summed;
        {
            std::lock_guard lock(tally_mutex_);
            summed.swap(tallied_);
        }
        if (summed.empty()) return usage_write::written;
        std::vector<storage::usage_bucket> buckets;
        buckets.reserve(summed.size());
        for (const auto& [at, count] : summed) buckets.push_back({at.first, at.second, count});
        return write(buckets);
    } catch (...) {  // allocation failure: treated like a refused write
        failures_.fetch_add(1, std::memory_order_relaxed);
        return usage_write::refused;
    }
}

usage_write usage_recorder::write(const std::vector<storage::usage_bucket>& buckets) {
    batches_.fetch_add(1, std::memory_order_relaxed);
    // Counts are held only once storage is seen failing under the lock: recover() takes what
    // is held under the same lock after resuming storage, so nothing is left held once storage
    // is healthy again. A failed write has told storage's health (and so us).
    std::unique_lock lock(mutex_, std::defer_lock);
    for (int attempt = 0;; ++attempt) {
        if (healthy()) {
            if (data_.usage().add(buckets)) return usage_write::written;
            failures_.fetch_add(1, std::memory_order_relaxed);
        }
        lock.lock();
        if (!healthy() || attempt == 1) break;
        lock.unlock();  // recovered since the check above
    }
    if (mode_ == on_storage_error::closed) return usage_write::refused;
    return hold_locked(buckets) ? usage_write::held : usage_write::refused;
}

bool usage_recorder::recover() noexcept {
    try {
        // Outside the lock, as are the writes of what is held: a reopen replays the WAL and may
        // take a while, and requests held meanwhile must not wait for it. A failure is noted
        // through storage's health.
        if (!healthy() && !data_.resume()) return false;
        std::size_t written = 0;
        // Until nothing is held: what was held while a write ran is written in the next round.
        for (auto pending = take_held(); !pending.empty(); pending = take_held()) {
            if (!data_.usage().add(pending)) {
                failures_.fetch_add(1, std::memory_order_relaxed);
                std::lock_guard lock(mutex_);
                put_back_locked(pending);
                return false;
            }
            written += pending.size();
        }
        std::lock_guard lock(mutex_);
        if (failing_) {
            const std::chrono::duration<double> took = now_() - failing_since_;
            log(fmt::format("storage recovered after {:.1f} s; {} held usage buckets written",
                            took.count(), written));
            failing_ = false;
        }
        return true;
    } catch (...) {  // allocation failure: try again later
    }
    return false;
}

std::vector<storage::usage_bucket> usage_recorder::take_held() {
    std::lock_guard lock(mutex_);
    return take_held_locked();
}

std::vector<storage::usage_bucket> usage_recorder::take_held_locked() {
    std::vector<storage::usage_bucket> buckets;
    buckets.reserve(held_.size());
    for (const auto& [at, count] : held_) buckets.push_back({at.first, at.second, count});
    held_.clear();
    return buckets;
}

void usage_recorder::put_back_locked(const std::vector<storage::usage_bucket>& buckets) {
    // Back in, past the bound if need be: these were already answered.
    for (const auto& b : buckets) held_[{b.start, b.key_id}] += b.count;
}

void usage_recorder::storage_failed(const std::string& error) noexcept {
    try {
        std::lock_guard lock(mutex_);
        note_error_locked(error);
    } catch (...) {  // allocation failure: storage's health still says it failed
    }
}

std::size_t usage_recorder::held_buckets() const {
    std::lock_guard lock(mutex_);
    return held_.size();
}

void usage_recorder::note_error_locked(const std::string& error) {
    storage_errors_.fetch_add(1, std::memory_order_relaxed);
    const auto now = now_();
    if (!failing_) {
        failing_ = true;
        failing_since_ = last_logged_ = now;
        errors_since_log_ = 0;
        told_full_ = false;
        log(fmt::format("storage failed: {}; {}", error, consequence(mode_)));
        return;
    }
    ++errors_since_log_;
    if (now - last_logged_ < log_every_) return;
    const auto failing = std::chrono::duration_cast<std::chrono::seconds>(now - failing_since_);
    log(fmt::format(
        "storage still failing after {} s: {} more errors, {} usage buckets held in memory; "
        "last: {}",
        failing.count(), errors_since_log_, held_.size(), error));
    last_logged_ = now;
    errors_since_log_ = 0;
}

bool usage_recorder::hold_locked(const std::vector<storage::usage_bucket>& buckets) {
    std::size_t fresh = 0;
    for (const auto& b : buckets) fresh += held_.count({b.start, b.key_id}) == 0;
    if (held_.size() + fresh > max_held_) {
        if (!told_full_)
            log(fmt::format(
                "usage held in memory reached its bound of {} buckets: admits are refused with "
                "503 until storage recovers",
                max_held_));
        told_full_ = true;
        return false;
    }
    put_back_locked(buckets);
    return true;
}

void usage_recorder::log(const std::string& line) const {
    if (!log_) return;
    try {
        log_(line);
    } catch (...) {  // a log line is not worth failing a request for
    }
}

}  // namespace rl::service
