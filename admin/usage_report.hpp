#pragma once
// Usage over a time range, summed into steps, for one key, one user or everyone; and the
// heaviest users over a range. Each part of the range is read from the coarsest resolution
// that holds it exactly (hour and minute roll-ups up to their watermarks, seconds after).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/data_dir.hpp"

namespace rl::admin {

using storage::usage_resolution;

struct usage_query {
    std::optional<std::string> user;
    std::optional<std::uint64_t> key_id;
    common::unix_seconds since = 0;
    common::unix_seconds until = 0;  // inclusive: the second `until` is in the report
    std::int64_t step = 60;          // seconds per bucket
};

struct usage_step {
    common::unix_seconds start = 0;
    storage::usage_count count;
};

struct usage_report {
    common::unix_seconds since = 0;  // the range actually covered (see plan_usage)
    common::unix_seconds until = 0;
    std::int64_t step = 0;
    usage_resolution resolution = usage_resolution::second;  // the finest the range has
    std::vector<usage_step> buckets;                         // only steps with requests
    storage::usage_count total;
};

// What each resolution holds, indexed second, minute, hour.
using usage_coverages = std::array<storage::usage_coverage, 3>;
usage_coverages coverages_of(const storage::data_dir& store);

// One resolution read over [from, until).
struct usage_source {
    usage_resolution resolution = usage_resolution::second;
    common::unix_seconds from = 0;
    common::unix_seconds until = 0;
};

struct usage_plan {
    common::unix_seconds since = 0;  // [since, until): the query's range widened to `finest`
    common::unix_seconds until = 0;
    std::int64_t step = 0;
    usage_resolution finest = usage_resolution::second;
    std::vector<usage_source> sources;  // in time order, together exactly [since, until)
};

// Plans [since, until] (inclusive) in steps of `step` (0: a readable default). When `since` is
// older than what the per-second (per-minute) buckets keep, the range is widened to whole
// minutes (hours), and the step must be a whole number of them: a default step is raised to
// fit; an explicit one that does not fit, or a range of more than max_report_steps steps, is an
// error (the text says what to ask instead).
inline constexpr std::int64_t max_report_steps = 200'000;
std::variant<usage_plan, std::string> plan_usage(const usage_coverages& coverages,
                                                 common::unix_seconds since,
                                                 common::unix_seconds until, std::int64_t step);

// A step that gives a readable number of buckets for the range.
std::int64_t default_step(common::unix_seconds since, common::unix_seconds until) noexcept;

usage_report build_usage_report(const storage::data_dir& store, const usage_plan& plan,
                                const usage_query& query);
// Plans the query's own range and step (no widening checks): for callers that know the data.
usage_report build_usage_report(const storage::data_dir& store, const usage_query& query);

// A user's sums over a range; keys whose user is gone are summed under "(deleted)", which no
// user can be named.
struct user_usage {
    std::string user;
    storage::usage_count count;
};

// Every user with requests in the plan's range, heaviest by admitted first.
std::vector<user_usage> usage_by_user(const storage::data_dir& store, const usage_plan& plan);

}  // namespace rl::admin
