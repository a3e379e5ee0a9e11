#pragma once
// After a restart (even after kill -9) no user gets extra quota: every admit counted in the last
// seconds is put back into the limiter at the latest moment it could have happened. At worst a
// user is held back for up to one extra second. Pure: both clocks and the counts are passed in.

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "common/time_text.hpp"
#include "limiter/sliding_window_limiter.hpp"

namespace rl::service {

// The admits one key had in one wall-clock second, as usage storage counts them.
struct counted_admits {
    std::uint64_t key_id = 0;
    common::unix_seconds second = 0;  // the admits happened in [second, second + 1)
    std::uint64_t admitted = 0;
};

class restart_restore {
public:
    // `wall_now` and `now` are the same moment on the wall clock and on the limiter's clock.
    restart_restore(std::chrono::system_clock::time_point wall_now, limiter::time_point now);

    // The seconds whose counts may still hold admits inside the window: from <= second < until.
    // A little past now too, in case the wall clock stepped back across the restart.
    common::unix_seconds from() const noexcept { return second_ - 1; }
    common::unix_seconds until() const noexcept { return second_ + 5; }

    // One usage count read from storage; counts with no admits are skipped.
    void add(const counted_admits& counted);

    // Seeds `user`'s window with what `key_id` admitted.
    void restore(std::uint64_t key_id, limiter::user_id user, std::uint32_t limit,
                 limiter::sliding_window_limiter& limiter) const;

private:
    std::chrono::system_clock::time_point wall_;
    limiter::time_point now_;
    common::unix_seconds second_;
    std::unordered_map<std::uint64_t, std::vector<counted_admits>> admits_;
};

}  // namespace rl::service
