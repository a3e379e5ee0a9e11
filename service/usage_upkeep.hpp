#pragma once
// The background half of usage: folds closed minutes and hours into the roll-ups, and drops what
// each resolution keeps no longer. Runs on the maintenance thread, never on the request path.

#include <chrono>

#include "common/defaults.hpp"
#include "storage/usage_store.hpp"

namespace rl::service {

struct usage_retention {
    std::chrono::seconds second = common::defaults::usage_retention_1s;
    std::chrono::seconds minute = common::defaults::usage_retention_1m;
    std::chrono::seconds hour = common::defaults::usage_retention_1h;
};

class usage_upkeep {
public:
    // A minute is folded this long after it ends: a request decided in it has been written by
    // then (its reply waited for the write).
    static constexpr std::chrono::seconds fold_grace{10};

    usage_upkeep(storage::usage_store& store, usage_retention keep) : store_(store), keep_(keep) {}

    // At most this many periods with data per fold, so that a backlog (after an upgrade or a
    // long stop) is worked off over several ticks without holding up the limiter's sweep.
    static constexpr std::size_t max_periods = 60;

    // Folds every minute closed by `now` (less the grace), and every hour whose minutes are all
    // folded, up to max_periods of each. Returns the periods written. Throws storage_error.
    std::size_t fold(common::unix_seconds now);

    // Expires each resolution past its retention, but never what the next coarser one has not
    // folded yet. Throws storage_error.
    void expire(common::unix_seconds now);

private:
    storage::usage_store& store_;
    usage_retention keep_;
};

}  // namespace rl::service
