#pragma once
// Every second: writes the tallied counts of answered requests, folds closed minutes and hours
// into the usage roll-ups and drops usage past its retention (which moves a minute at a time).
// Every ten seconds: frees the limiter state of users idle past their longest sliding window.

#include <chrono>
#include <functional>
#include <string>

#include "common/periodic_worker.hpp"
#include "limiter/policy_limiter.hpp"
#include "service/usage_recorder.hpp"
#include "service/usage_upkeep.hpp"

namespace rl::service {

class maintenance {
public:
    using log_line = std::function<void(const std::string&)>;
    static constexpr std::chrono::seconds period{1};
    // The idle sweep visits every user holding state: once a second with 100,000 active users it
    // cost about 0.2 us of CPU per request, in runs of some milliseconds, and a user back within
    // a few seconds was freed and allocated again. Every ten seconds, the state of an idle user
    // lives at most that much longer.
    static constexpr int idle_sweep_every = 10;  // ticks

    maintenance(limiter::policy_limiter& limiter, usage_recorder& counts, usage_upkeep& usage,
                log_line log);

private:
    void tick();

    limiter::policy_limiter& limiter_;
    usage_recorder& counts_;
    usage_upkeep& usage_;
    const log_line log_;
    // While storage fails a tick fails every second: one line a minute is enough (the storage
    // recovery logs the fault itself).
    std::chrono::steady_clock::time_point next_log_{};
    int ticks_ = 0;
    common::periodic_worker worker_;  // last: starts after the members it uses
};

}  // namespace rl::service
