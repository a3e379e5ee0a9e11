#include "service/usage_upkeep.hpp"

#include <algorithm>

namespace rl::service {

namespace {

using storage::usage_resolution;

common::unix_seconds floor_to(common::unix_seconds t, usage_resolution r) {
    return common::floor_to(t, storage::period_of(r));
}

}  // namespace

std::size_t usage_upkeep::fold(common::unix_seconds now) {
    return store_.fold_usage(usage_resolution::minute, now - fold_grace.count()) +
           store_.fold_usage(usage_resolution::hour, now);
}

void usage_upkeep::expire(common::unix_seconds now) {
    const auto cutoff = [&](usage_resolution r, std::chrono::seconds keep,
                            common::unix_seconds folded_until) {
        return floor_to(std::min(now - keep.count(), folded_until), r);
    };
    store_.expire_usage_before(usage_resolution::second,
                               cutoff(usage_resolution::second, keep_.second,
                                      store_.coverage(usage_resolution::minute).folded_until));
    store_.expire_usage_before(usage_resolution::minute,
                               cutoff(usage_resolution::minute, keep_.minute,
                                      store_.coverage(usage_resolution::hour).folded_until));
    store_.expire_usage_before(usage_resolution::hour,
                               floor_to(now - keep_.hour.count(), usage_resolution::hour));
}

}  // namespace rl::service
