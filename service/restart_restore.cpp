#include "service/restart_restore.hpp"

#include <algorithm>

namespace rl::service {

restart_restore::restart_restore(std::chrono::system_clock::time_point wall_now,
                                 limiter::time_point now)
    : wall_(wall_now),
      now_(now),
      second_(std::chrono::floor<std::chrono::seconds>(wall_now.time_since_epoch()).count()) {}

void restart_restore::add(const counted_admits& counted) {
    if (counted.admitted > 0) admits_[counted.key_id].push_back(counted);
}

void restart_restore::restore(std::uint64_t key_id, limiter::user_id user, std::uint32_t limit,
                              limiter::sliding_window_limiter& limiter) const {
    const auto it = admits_.find(key_id);
    if (it == admits_.end()) return;
    for (const counted_admits& counted : it->second) {
        // The end of their second, or now when the wall clock says that is still to come.
        const auto latest = std::min(
            wall_, std::chrono::system_clock::time_point(std::chrono::seconds(counted.second + 1)));
        const auto at =
            now_ - std::chrono::duration_cast<limiter::time_point::duration>(wall_ - latest);
        const auto count =
            static_cast<std::uint32_t>(std::min<std::uint64_t>(counted.admitted, UINT32_MAX));
        limiter.restore(user, limit, count, at);
    }
}

}  // namespace rl::service
