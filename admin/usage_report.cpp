#include "admin/usage_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <unordered_map>

namespace rl::admin {

namespace {

using common::unix_seconds;
using storage::period_of;

constexpr usage_resolution coarse_to_fine[] = {usage_resolution::hour, usage_resolution::minute,
                                               usage_resolution::second};

std::size_t index_of(usage_resolution r) {
    return r == usage_resolution::second ? 0 : r == usage_resolution::minute ? 1 : 2;
}

using common::floor_to;

unix_seconds ceil_to(unix_seconds t, std::int64_t period) {
    return floor_to(t + period - 1, period);
}

const char* name_of(usage_resolution r) {
    return r == usage_resolution::second   ? "second"
           : r == usage_resolution::minute ? "minute"
                                           : "hour";
}

// The resolutions whose periods tile a step, coarse to fine (seconds always do).
std::vector<usage_resolution> candidates_for(std::int64_t step) {
    std::vector<usage_resolution> candidates;
    for (auto r : coarse_to_fine)
        if (step % period_of(r) == 0) candidates.push_back(r);
    return candidates;
}

// Splits [from, until) between the resolutions in `candidates` (coarse to fine, ending with
// seconds): each takes the whole periods it holds, finer ones the edges around them.
void split(const usage_coverages& coverages, const std::vector<usage_resolution>& candidates,
           std::size_t index, unix_seconds from, unix_seconds until,
           std::vector<usage_source>& out) {
    if (from >= until) return;
    const usage_resolution r = candidates[index];
    if (index + 1 == candidates.size()) {
        out.push_back({r, from, until});
        return;
    }
    const std::int64_t period = period_of(r);
    const auto& held = coverages[index_of(r)];
    const unix_seconds a = std::max(ceil_to(from, period), ceil_to(held.kept_from, period));
    const unix_seconds b = std::min(floor_to(until, period), floor_to(held.folded_until, period));
    if (a >= b) return split(coverages, candidates, index + 1, from, until, out);
    split(coverages, candidates, index + 1, from, a, out);
    out.push_back({r, a, b});
    split(coverages, candidates, index + 1, b, until, out);
}

std::vector<std::uint64_t> keys_of(const storage::data_dir& store, const usage_query& query) {
    std::vector<std::uint64_t> keys;
    if (query.key_id) keys.push_back(*query.key_id);
    if (query.user) {
        store.catalog().for_each_key([&](const storage::key_record& key) {
            if (key.user == *query.user) keys.push_back(key.key_id);
        });
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

void for_each_planned(const storage::data_dir& store, const usage_plan& plan,
                      const std::vector<std::uint64_t>* keys,
                      const std::function<void(const storage::usage_bucket&)>& visit) {
    for (const auto& source : plan.sources)
        store.usage().scan(storage::usage_range{source.resolution, source.from, source.until, keys},
                           visit);
}

}  // namespace

usage_coverages coverages_of(const storage::data_dir& store) {
    return {store.usage().coverage(usage_resolution::second),
            store.usage().coverage(usage_resolution::minute),
            store.usage().coverage(usage_resolution::hour)};
}

std::int64_t default_step(unix_seconds since, unix_seconds until) noexcept {
    const std::int64_t range = until - since;
    if (range <= 120) return 1;
    if (range <= 3 * 3600) return 60;
    if (range <= 3 * 86400) return 3600;
    return 86400;
}

std::variant<usage_plan, std::string> plan_usage(const usage_coverages& coverages,
                                                 unix_seconds since, unix_seconds until,
                                                 std::int64_t step) {
    usage_plan plan;
    // The finest resolution that still holds `since` holds everything after it, too.
    if (since < coverages[index_of(usage_resolution::second)].kept_from)
        plan.finest = since < coverages[index_of(usage_resolution::minute)].kept_from
                          ? usage_resolution::hour
                          : usage_resolution::minute;
    const std::int64_t finest = period_of(plan.finest);
    plan.since = floor_to(since, finest);
    plan.until = ceil_to(until + 1, finest);

    if (step <= 0) {
        step = std::max(default_step(since, until), finest);
    } else if (step % finest != 0) {
        return fmt::format(
            "usage before {} is kept per {} only: use a step of whole {}s (e.g. {}), or a later "
            "--since",
            common::format_rfc3339(
                coverages[index_of(plan.finest) - 1].kept_from),  // what the finer one keeps
            name_of(plan.finest), name_of(plan.finest),
            plan.finest == usage_resolution::minute ? "1m, 1h, 1d" : "1h, 1d");
    }
    plan.step = step;
    const std::int64_t steps = (plan.until - floor_to(plan.since, step) + step - 1) / step;
    if (steps > max_report_steps)
        return fmt::format(
            "a step of {}s over this range makes {} steps, more than {}: use a "
            "larger --step or a shorter range",
            step, steps, max_report_steps);

    split(coverages, candidates_for(step), 0, plan.since, plan.until, plan.sources);
    return plan;
}

usage_report build_usage_report(const storage::data_dir& store, const usage_plan& plan,
                                const usage_query& query) {
    const bool filtered = query.key_id || query.user;
    const std::vector<std::uint64_t> keys =
        filtered ? keys_of(store, query) : std::vector<std::uint64_t>{};
    const std::int64_t step = plan.step;

    std::map<unix_seconds, storage::usage_count> steps;
    usage_report report;
    report.since = plan.since;
    report.until = plan.until - 1;
    report.step = step;
    report.resolution = plan.finest;
    for_each_planned(store, plan, filtered ? &keys : nullptr,
                     [&](const storage::usage_bucket& bucket) {
                         // Floor division: steps line up with the epoch (minutes, UTC days).
                         steps[floor_to(bucket.start, step)] += bucket.count;
                         report.total += bucket.count;
                     });
    report.buckets.reserve(steps.size());
    for (const auto& [start, count] : steps) report.buckets.push_back({start, count});
    return report;
}

usage_report build_usage_report(const storage::data_dir& store, const usage_query& query) {
    usage_plan plan;
    plan.since = query.since;
    plan.until = query.until + 1;
    plan.step = query.step > 0 ? query.step : 1;
    split(coverages_of(store), candidates_for(plan.step), 0, plan.since, plan.until, plan.sources);
    return build_usage_report(store, plan, query);
}

std::vector<user_usage> usage_by_user(const storage::data_dir& store, const usage_plan& plan) {
    std::unordered_map<std::uint64_t, storage::usage_count> by_key;
    for_each_planned(store, plan, nullptr, [&](const storage::usage_bucket& bucket) {
        by_key[bucket.key_id] += bucket.count;
    });
    std::map<std::string, storage::usage_count> by_user;
    store.catalog().for_each_key([&](const storage::key_record& key) {
        const auto it = by_key.find(key.key_id);
        if (it == by_key.end()) return;
        by_user[key.user] += it->second;
        by_key.erase(it);
    });
    for (const auto& [key_id, count] : by_key) by_user["(deleted)"] += count;

    std::vector<user_usage> users;
    users.reserve(by_user.size());
    for (auto& [user, count] : by_user) users.push_back({user, count});
    std::stable_sort(users.begin(), users.end(), [](const user_usage& a, const user_usage& b) {
        return a.count.admitted > b.count.admitted;
    });
    return users;
}

}  // namespace rl::admin
