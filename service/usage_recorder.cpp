#include "service/usage_recorder.hpp"

#include <vector>

namespace rl::service {

bool usage_recorder::record(std::uint64_t key_id, common::unix_seconds second,
                            bool admitted) noexcept {
    // Reused per thread: no allocation per request once warm.
    thread_local std::vector<storage::usage_bucket> batch(1);
    batch[0] = storage::usage_bucket{second, key_id, {admitted ? 1u : 0u, admitted ? 0u : 1u}};
    writes_.fetch_add(1, std::memory_order_relaxed);
    if (store_.add_usage(batch)) return true;
    failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

}  // namespace rl::service
