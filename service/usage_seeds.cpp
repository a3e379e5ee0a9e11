#include "service/usage_seeds.hpp"

#include <algorithm>
#include <variant>

#include "admin/usage_report.hpp"
#include "limiter/calendar.hpp"
#include "storage/data_dir.hpp"

namespace rl::service {

namespace {

constexpr std::int64_t seconds_per_day = limiter::day_seconds;

common::unix_seconds period_from(limiter::window_kind kind, common::unix_seconds second) {
    const std::int64_t day = limiter::floor_div(second, seconds_per_day);
    return std::int64_t{limiter::calendar::period_start(kind, day)} * seconds_per_day;
}

// Sums each owner's admits over [from, now] from whatever resolutions hold that range.
template <typename Add>
void sum_period(const storage::data_dir& store, const std::vector<std::uint64_t>* keys,
                const std::unordered_map<std::uint64_t, limiter::user_id>& owners,
                common::unix_seconds from, common::unix_seconds now, Add add) {
    const auto planned = admin::plan_usage(admin::coverages_of(store), from, now,
                                           storage::period_of(storage::usage_resolution::hour));
    const auto* plan = std::get_if<admin::usage_plan>(&planned);
    if (!plan) return;  // more steps than a report allows: cannot happen for a month of hours
    for (const admin::usage_source& source : plan->sources)
        store.usage().scan({source.resolution, source.from, source.until, keys},
                           [&](const storage::usage_bucket& b) {
                               const auto owner = owners.find(b.key_id);
                               if (owner != owners.end() && b.count.admitted > 0)
                                   add(owner->second, b.count.admitted);
                           });
}

}  // namespace

void seed_needs::add(const limiter::limit& l) {
    switch (l.kind) {
        case limiter::window_kind::sliding:
            sliding_seconds = std::max(sliding_seconds, l.seconds);
            break;
        case limiter::window_kind::day: day = true; break;
        case limiter::window_kind::month: month = true; break;
    }
}

void seed_needs::add(const limiter::policy& p) {
    for (const limiter::limit& l : p.limits) add(l);
}

void seed_needs::add_new(const limiter::policy& after, const limiter::policy& before) {
    for (const limiter::limit& l : after.limits) {
        const bool kept =
            std::any_of(before.limits.begin(), before.limits.end(),
                        [&](const limiter::limit& b) { return limiter::same_window(b, l); });
        if (!kept) add(l);
    }
}

seed_builder::seed_builder(seed_needs needs, limiter::wall_time wall)
    : needs_(needs),
      second_(std::chrono::floor<std::chrono::seconds>(wall.time_since_epoch()).count()),
      day_from_(period_from(limiter::window_kind::day, second_)),
      month_from_(period_from(limiter::window_kind::month, second_)) {}

common::unix_seconds seed_builder::seconds_from() const noexcept {
    // The admits of second s happened before s + 1; those of a window of w seconds that ends
    // now started after now - w, so seconds from now - w - 1 on can still hold some.
    return second_ - static_cast<common::unix_seconds>(needs_.sliding_seconds) - 1;
}

void seed_builder::add_second(limiter::user_id user, common::unix_seconds second,
                              std::uint64_t admitted) {
    if (admitted == 0) return;
    auto& admits = seeds_[user].admits;
    const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(admitted, UINT32_MAX));
    // Keys of one user count the same second apart, and a scan gives them one after another:
    // one entry per second.
    if (!admits.empty() && admits.back().unix_second == second) {
        admits.back().count = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(std::uint64_t{admits.back().count} + count, UINT32_MAX));
        return;
    }
    admits.push_back({second, count});
}

void seed_builder::add_day(limiter::user_id user, std::uint64_t admitted) {
    seeds_[user].day += admitted;
}

void seed_builder::add_month(limiter::user_id user, std::uint64_t admitted) {
    seeds_[user].month += admitted;
}

const limiter::seed* seed_builder::seed_of(limiter::user_id user) const {
    const auto it = seeds_.find(user);
    return it == seeds_.end() ? nullptr : &it->second;
}

seed_builder read_seeds(const storage::data_dir& store,
                        const std::unordered_map<std::uint64_t, limiter::user_id>& owners,
                        seed_needs needs, limiter::wall_time wall, bool every_key) {
    seed_builder seeds(needs, wall);
    if (!needs.any() || owners.empty()) return seeds;
    std::vector<std::uint64_t> sorted;
    if (!every_key) {
        sorted.reserve(owners.size());
        for (const auto& [key, user] : owners) sorted.push_back(key);
        std::sort(sorted.begin(), sorted.end());
    }
    const std::vector<std::uint64_t>* keys = every_key ? nullptr : &sorted;
    if (needs.sliding_seconds > 0)
        store.usage().scan(
            {storage::usage_resolution::second, seeds.seconds_from(), seeds.seconds_until(), keys},
            [&](const storage::usage_bucket& b) {
                const auto owner = owners.find(b.key_id);
                if (owner != owners.end())
                    seeds.add_second(owner->second, b.start, b.count.admitted);
            });
    const common::unix_seconds now = seeds.seconds_until() - 1;
    if (needs.day)
        sum_period(store, keys, owners, seeds.day_from(), now,
                   [&](limiter::user_id u, std::uint64_t n) { seeds.add_day(u, n); });
    if (needs.month)
        sum_period(store, keys, owners, seeds.month_from(), now,
                   [&](limiter::user_id u, std::uint64_t n) { seeds.add_month(u, n); });
    return seeds;
}

}  // namespace rl::service
