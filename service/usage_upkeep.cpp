#include "service/usage_upkeep.hpp"

#include <algorithm>
#include <limits>

namespace rl::service {

namespace {

using storage::usage_resolution;

common::unix_seconds floor_to(common::unix_seconds t, usage_resolution r) {
    return common::floor_to(t, storage::period_of(r));
}

}  // namespace

std::size_t usage_upkeep::fold(common::unix_seconds now) {
    return store_.fold(usage_resolution::minute, now - fold_grace.count(), max_periods) +
           store_.fold(usage_resolution::hour, now, max_periods);
}

void usage_upkeep::expire(common::unix_seconds now) {
    // Cutoffs move a minute (an hour) at a time, so calling this every second writes a range
    // tombstone at most once a minute.
    const auto cutoff = [&](std::chrono::seconds keep, common::unix_seconds folded_until,
                            usage_resolution granularity) {
        return floor_to(std::min(now - keep.count(), folded_until), granularity);
    };
    constexpr auto no_limit = std::numeric_limits<common::unix_seconds>::max();
    store_.expire(usage_resolution::second,
                  cutoff(keep_.second, store_.coverage(usage_resolution::minute).folded_until,
                         usage_resolution::minute));
    store_.expire(usage_resolution::minute,
                  cutoff(keep_.minute, store_.coverage(usage_resolution::hour).folded_until,
                         usage_resolution::hour));
    store_.expire(usage_resolution::hour, cutoff(keep_.hour, no_limit, usage_resolution::hour));
}

}  // namespace rl::service
