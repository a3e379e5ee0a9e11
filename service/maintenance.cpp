#include "service/maintenance.hpp"

namespace rl::service {

maintenance::maintenance(limiter::policy_limiter& limiter, usage_recorder& counts,
                         usage_upkeep& usage, log_line log)
    : limiter_(limiter),
      counts_(counts),
      usage_(usage),
      log_(std::move(log)),
      worker_(period, [this] { tick(); }) {}

void maintenance::tick() {
    // Before the fold, so a minute is folded with the counts of its last seconds (the fold waits
    // usage_upkeep::fold_grace past its end).
    counts_.write_tallied();
    if (++ticks_ % idle_sweep_every == 0)
        limiter_.forget_idle(std::chrono::steady_clock::now(), std::chrono::system_clock::now());
    try {
        usage_.fold(common::wall_now());
        usage_.expire(common::wall_now());
    } catch (const storage::storage_error& e) {
        if (std::chrono::steady_clock::now() >= next_log_) {
            log_(std::string("usage roll-up or expiry failed (retried every second): ") + e.what());
            next_log_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        }
    }
}

}  // namespace rl::service
