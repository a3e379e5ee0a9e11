#pragma once
// Usage over a time range, summed into steps, for one key, one user or everyone.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace rl::admin {

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
    std::int64_t step = 0;
    std::vector<usage_step> buckets;  // only steps with requests, in time order
    storage::usage_count total;
};

// A step that gives a readable number of buckets for the range.
std::int64_t default_step(common::unix_seconds since, common::unix_seconds until) noexcept;

usage_report build_usage_report(const storage::store& store, const usage_query& query);

}  // namespace rl::admin
