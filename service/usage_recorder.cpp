#include "service/usage_recorder.hpp"

#include <algorithm>

namespace rl::service {

bool usage_recorder::record(const std::vector<usage_event>& events) noexcept {
    if (events.empty()) return true;
    try {
        // Reused per thread: no allocation once warm.
        thread_local std::vector<storage::usage_bucket> buckets;
        buckets.clear();
        for (const usage_event& e : events)
            buckets.push_back({e.second, e.key_id, {e.admitted ? 1u : 0u, e.admitted ? 0u : 1u}});
        // One merge per (second, key) instead of one per request: fewer memtable entries.
        std::sort(buckets.begin(), buckets.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second < b.second : a.key_id < b.key_id;
        });
        std::size_t out = 0;
        for (std::size_t i = 1; i < buckets.size(); ++i) {
            if (buckets[i].second == buckets[out].second &&
                buckets[i].key_id == buckets[out].key_id)
                buckets[out].count += buckets[i].count;
            else
                buckets[++out] = buckets[i];
        }
        buckets.resize(out + 1);
        batches_.fetch_add(1, std::memory_order_relaxed);
        if (store_.add_usage(buckets)) return true;
    } catch (...) {  // allocation failure: treated like a refused write
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

}  // namespace rl::service
