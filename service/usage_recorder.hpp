#pragma once
// Counts decisions into the per-second usage buckets: many requests, one write, in the WAL
// before any of their replies is sent. When storage fails (storage's own health says so) it
// keeps the service deciding: per --on-storage-error, counts are held in memory (bounded) until
// storage recovers, or refused. Counts nobody waits for (429s, shadow-limited 200s) are summed
// in memory and written about once a second instead. It also logs every storage failure,
// wherever it happened.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "service/config.hpp"
#include "storage/data_dir.hpp"

namespace rl::service {

// Which count of a usage bucket a decision adds to (storage::usage_count's three fields).
enum class usage_kind : std::uint8_t { admitted, limited, shadow_limited };

struct usage_event {
    std::uint64_t key_id = 0;
    common::unix_seconds second = 0;
    usage_kind kind = usage_kind::admitted;
};

// One request of the given kind.
constexpr storage::usage_count count_of(usage_kind kind) noexcept {
    storage::usage_count c;
    switch (kind) {
        case usage_kind::admitted: c.admitted = 1; break;
        case usage_kind::limited: c.limited = 1; break;
        case usage_kind::shadow_limited: c.shadow_limited = 1; break;
    }
    return c;
}

// What became of a batch of events.
enum class usage_write {
    written,  // in the WAL
    held,     // storage is failing: kept in memory, written once it recovers
    refused,  // storage is failing and the counts are not kept (closed mode, or memory is full)
};

class usage_recorder {
public:
    using log_line = std::function<void(const std::string&)>;
    using clock = std::chrono::steady_clock;
    // What the log intervals are measured with (tests step a manual one).
    using now_fn = std::function<clock::time_point()>;
    // (second, key) buckets held at most while storage fails: about 64 bytes each.
    static constexpr std::size_t default_max_held = 1 << 20;
    // While storage fails: the first error is logged, then one summary per this interval.
    static constexpr std::chrono::seconds log_interval{10};

    // Listens to the data directory's health until destroyed, so `data` must outlive it.
    explicit usage_recorder(storage::data_dir& data, on_storage_error mode = on_storage_error::open,
                            log_line log = {}, std::size_t max_held = default_max_held,
                            clock::duration log_every = log_interval, now_fn now = clock::now);
    ~usage_recorder();
    usage_recorder(const usage_recorder&) = delete;
    usage_recorder& operator=(const usage_recorder&) = delete;

    // Writes the events as one batch, same (second, key) summed. Never throws.
    usage_write record(const std::vector<usage_event>& events) noexcept;

    // The count of a request already answered, which nothing waits for: summed in memory per
    // (second, key) until the next write_tallied(). A hot key's 429s then make one usage entry a
    // second instead of one per write; kill -9 loses the counts tallied since that write.
    void tally(const usage_event& event);
    // Writes what tally() has summed as one batch (maintenance calls it every second, usage
    // reports before they read, the shutdown once the event loop has stopped). Never throws.
    usage_write write_tallied() noexcept;

    // While storage is failing: resumes it and writes what is held. True once storage is
    // healthy again. For one background thread (never two at once), retrying with a backoff.
    bool recover() noexcept;

    bool healthy() const noexcept { return data_.health().healthy(); }
    std::size_t held_buckets() const;

    std::uint64_t batches() const noexcept { return batches_.load(std::memory_order_relaxed); }
    // Usage writes storage refused.
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }
    // Every storage error seen: refused writes (usage, catalog, roll-ups) and failed recoveries.
    std::uint64_t storage_errors() const noexcept {
        return storage_errors_.load(std::memory_order_relaxed);
    }

private:
    using bucket_id = std::pair<common::unix_seconds, std::uint64_t>;  // (second, key)
    struct bucket_hash {
        std::size_t operator()(const bucket_id& b) const {
            return std::hash<std::uint64_t>()(b.second * 0x9E3779B97F4A7C15ULL ^
                                              static_cast<std::uint64_t>(b.first));
        }
    };
    using bucket_table = std::unordered_map<bucket_id, storage::usage_count, bucket_hash>;

    // Writes the buckets, or holds or refuses them while storage fails.
    usage_write write(const std::vector<storage::usage_bucket>& buckets);
    // From storage's health, on the failing thread (which holds no lock of ours).
    void storage_failed(const std::string& error) noexcept;
    // Under mutex_: counts an error, and logs the first one and then one line per interval.
    void note_error_locked(const std::string& error);
    // Under mutex_: adds the buckets to what is held, all or none.
    bool hold_locked(const std::vector<storage::usage_bucket>& buckets);
    void put_back_locked(const std::vector<storage::usage_bucket>& buckets);
    std::vector<storage::usage_bucket> take_held();
    std::vector<storage::usage_bucket> take_held_locked();
    void log(const std::string& line) const;

    storage::data_dir& data_;
    const on_storage_error mode_;
    const log_line log_;
    const std::size_t max_held_;
    const clock::duration log_every_;
    const now_fn now_;
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> failures_{0};
    std::atomic<std::uint64_t> storage_errors_{0};

    std::mutex tally_mutex_;  // tallied_
    bucket_table tallied_;

    mutable std::mutex mutex_;  // everything below
    bucket_table held_;
    clock::time_point failing_since_{};
    clock::time_point last_logged_{};
    std::uint64_t errors_since_log_ = 0;
    bool failing_ = false;  // since the first error logged, until recovery is logged
    bool told_full_ = false;
};

}  // namespace rl::service
