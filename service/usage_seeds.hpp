#pragma once
// What users' windows start from, read back from usage: after a restart (even after kill -9)
// every window, after a change of terms the windows new to the user. So no user gets extra
// quota: every admit counted in a window is put back, at the latest moment it could have
// happened (the limiter does that from the wall-clock second), and the day and month quotas get
// their periods' sums. At worst a window is stricter by up to a second. The usage write is the
// quota write, so a count in a seed was in the WAL before its 200.

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/time_text.hpp"
#include "limiter/policy.hpp"
#include "limiter/user_state.hpp"

namespace rl::storage {
class data_dir;
}

namespace rl::service {

// Which windows need a seed: sliding ones up to this length, and the calendar quotas.
struct seed_needs {
    std::uint32_t sliding_seconds = 0;
    bool day = false;
    bool month = false;

    void add(const limiter::limit& l);
    void add(const limiter::policy& p);
    // The windows of `after` that `before` lacks.
    void add_new(const limiter::policy& after, const limiter::policy& before);
    bool any() const noexcept { return sliding_seconds > 0 || day || month; }
};

// Pure: fed the counts of the users' keys, hands out a seed per user.
class seed_builder {
public:
    seed_builder(seed_needs needs, limiter::wall_time wall);

    const seed_needs& needs() const noexcept { return needs_; }
    // The seconds whose counts may still hold admits inside the longest window:
    // seconds_from() <= second < seconds_until(). A little past now too, in case the wall clock
    // stepped back across a restart.
    common::unix_seconds seconds_from() const noexcept;
    common::unix_seconds seconds_until() const noexcept { return second_ + 5; }
    // Where the current UTC day and month began.
    common::unix_seconds day_from() const noexcept { return day_from_; }
    common::unix_seconds month_from() const noexcept { return month_from_; }

    // Admits of one of the user's keys in one wall-clock second; seconds in time order, as a
    // usage scan gives them.
    void add_second(limiter::user_id user, common::unix_seconds second, std::uint64_t admitted);
    void add_day(limiter::user_id user, std::uint64_t admitted);
    void add_month(limiter::user_id user, std::uint64_t admitted);

    // Null when the user had nothing counted.
    const limiter::seed* seed_of(limiter::user_id user) const;
    const std::unordered_map<limiter::user_id, limiter::seed>& seeds() const noexcept {
        return seeds_;
    }

private:
    seed_needs needs_;
    common::unix_seconds second_;
    common::unix_seconds day_from_;
    common::unix_seconds month_from_;
    std::unordered_map<limiter::user_id, limiter::seed> seeds_;
};

// Reads the seeds of the keys' owners from usage: per-second buckets for the sliding windows,
// and for the calendar quotas each part of the period from the coarsest resolution that holds
// it exactly. `owners` maps key ids to users; only their keys are read (all of them with
// `every_key`, when `owners` holds every key). Throws storage_error.
seed_builder read_seeds(const storage::data_dir& store,
                        const std::unordered_map<std::uint64_t, limiter::user_id>& owners,
                        seed_needs needs, limiter::wall_time wall, bool every_key);

}  // namespace rl::service
