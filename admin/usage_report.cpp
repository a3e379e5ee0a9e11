#include "admin/usage_report.hpp"

#include <map>
#include <unordered_set>

namespace rl::admin {

std::int64_t default_step(common::unix_seconds since, common::unix_seconds until) noexcept {
    const std::int64_t range = until - since;
    if (range <= 120) return 1;
    if (range <= 3 * 3600) return 60;
    if (range <= 3 * 86400) return 3600;
    return 86400;
}

usage_report build_usage_report(const storage::store& store, const usage_query& query) {
    std::unordered_set<std::uint64_t> keys;
    if (query.key_id) keys.insert(*query.key_id);
    if (query.user) {
        store.for_each_key([&](const storage::key_record& key) {
            if (key.user == *query.user) keys.insert(key.key_id);
        });
    }
    const bool filtered = query.key_id || query.user;
    const std::int64_t step = query.step > 0 ? query.step : 1;

    std::map<common::unix_seconds, storage::usage_count> steps;
    usage_report report;
    report.step = step;
    store.for_each_usage(query.since, query.until + 1, [&](const storage::usage_bucket& bucket) {
        if (filtered && !keys.count(bucket.key_id)) return;
        // Floor division, so steps line up with the epoch (minutes, hours, UTC days).
        common::unix_seconds start = bucket.second - ((bucket.second % step) + step) % step;
        steps[start] += bucket.count;
        report.total += bucket.count;
    });
    report.buckets.reserve(steps.size());
    for (const auto& [start, count] : steps) report.buckets.push_back({start, count});
    return report;
}

}  // namespace rl::admin
