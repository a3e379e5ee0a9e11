#pragma once
// Usage per key: counted per second on the request path, rolled up per minute and per hour,
// scanned by reports and expired by retention. Errors are storage_error, except in add().

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/records.hpp"
#include "storage/storage_error.hpp"

namespace rl::storage {

class database;

// A range scan of one resolution: buckets with from <= start < until, in (start, key_id) order.
struct usage_range {
    usage_resolution resolution = usage_resolution::second;
    unix_seconds from = 0;
    unix_seconds until = 0;
    // Only these keys (sorted ascending), found by seeking past the others; null: every key.
    const std::vector<std::uint64_t>* keys = nullptr;
};

// What one resolution holds: buckets in [kept_from, folded_until). Older ones were expired;
// newer ones are not rolled up yet (for `second`, folded_until is the far future).
struct usage_coverage {
    unix_seconds kept_from = 0;
    unix_seconds folded_until = 0;
};

class usage_store {
public:
    explicit usage_store(database& db);  // throws storage_error

    // Adds the buckets to the per-second usage: in the WAL (the OS has it, a killed process
    // loses nothing) when this returns true; not fsynced. Never throws: false means the write
    // failed, and `error` (if given) says why. Written buckets are also summed per minute in
    // memory, for the fold (the only allocation here: a key's first entry in a minute).
    bool add(const std::vector<usage_bucket>& buckets, std::string* error = nullptr) noexcept;

    void scan(const usage_range& range,
              const std::function<void(const usage_bucket&)>& visit) const;

    // Drops every bucket of the resolution older than `cutoff`: records the cutoff, so reads
    // (and reports, through coverage) start from it, then deletes the table files holding only
    // older buckets, without reading them. Never moves back; usage written later for a second
    // before the cutoff is not read either.
    void expire(usage_resolution resolution, unix_seconds cutoff);

    // Roll-ups: sums every whole minute (hour) that ends at or before `through` from the
    // per-second (per-minute) buckets into `into`, at most `max_periods` periods with data per
    // call. Each period's sums are Put (not merged) together with the watermark in one atomic
    // write, so folding a period again, after a crash or otherwise, never double counts.
    // Returns the number of periods written. Hours are folded only from folded minutes. Minutes
    // (and their hours) that got usage after they were folded are folded again first. A minute
    // whose every second this store wrote (it was open from the minute's start) is folded from
    // the sums add() kept, without reading its seconds back.
    std::size_t fold(usage_resolution into, unix_seconds through, std::size_t max_periods = 1000);

    usage_coverage coverage(usage_resolution resolution) const;

    // Keys summed in memory per minute at most; past it, that minute is folded by a scan.
    static constexpr std::size_t max_summed_keys = 1 << 17;
    // Per-second entries per memtable: about 15 MiB of memory, 2 MiB of table file.
    static constexpr std::uint64_t entries_per_memtable = 256 * 1024;
    // One period's counts per key: what a fold writes.
    using key_sums = std::unordered_map<std::uint64_t, usage_count>;

private:
    struct minute_sums {
        key_sums per_key;
        bool overflowed = false;  // past max_summed_keys: dropped, to be folded by a scan
    };

    void refold_late_minutes();  // in fold(), with the database in use
    // Under sums_mutex_, after a successful write: adds the buckets to their minutes' sums,
    // and the minutes the fold has already taken to `late`.
    void sum_locked(const std::vector<usage_bucket>& buckets, std::vector<unix_seconds>& late);
    // The sums of the minutes in [begin, end) when add() saw every one of their seconds (a
    // minute without an entry had no usage); nullopt when one must be scanned. Either way the
    // fold owns those minutes from now on: later writes to them are late.
    std::optional<std::map<unix_seconds, key_sums>> take_sums(unix_seconds begin, unix_seconds end);

    // Whether to start a new per-second memtable before a batch whose first second is
    // `first`: it opens a second no write reached before, and the current memtable holds
    // entries_per_memtable (counted from here on). See usage_store.cpp.
    bool memtable_switch_due(unix_seconds first) noexcept;

    database& db_;
    // The newest second written, and the entries written since the memtable was switched.
    std::atomic<unix_seconds> newest_second_{0};
    std::atomic<std::uint64_t> entries_since_switch_{0};
    // Usage that arrives for an already folded minute (the clock stepped back, or a write was
    // delayed past the fold's grace) marks that minute to be folded again. The marks live in
    // memory only: one lost in a crash leaves the roll-up short of those late requests.
    std::atomic<unix_seconds> minutes_folded_until_{0};
    std::mutex late_mutex_;
    std::set<unix_seconds> late_minutes_;

    std::mutex sums_mutex_;     // the three below
    unix_seconds summed_from_;  // the first minute all of whose seconds this store writes
    unix_seconds taken_until_;  // minutes before it belong to the fold
    std::map<unix_seconds, minute_sums> sums_;
};

}  // namespace rl::storage
