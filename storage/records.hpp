#pragma once
// What storage keeps, in domain terms. Times are Unix seconds (wall clock); 0 means "never".

#include <cstdint>
#include <string>
#include <string_view>

#include "common/api_key.hpp"
#include "common/time_text.hpp"

namespace rl::storage {

using common::key_hash;
using common::unix_seconds;

// The built-in plan: never stored; a user who follows it is stored with this plan name.
inline constexpr std::string_view default_plan = "default";

// A named policy that many users follow.
struct plan_record {
    std::string name;     // 1-64 of A-Z a-z 0-9 . _ @ - (same rule as user names)
    std::string limits;   // canonical policy text: limiter::to_string(policy), e.g. "1s:10,1m:300"
    bool shadow = false;  // decisions made and counted, never enforced
    unix_seconds created_at = 0;
    unix_seconds updated_at = 0;
};

struct user_record {
    std::string name;
    std::string plan;    // the plan followed; empty when the user has limits of their own
    std::string limits;  // the user's own policy text (canonical), when plan is empty
    bool disabled = false;
    unix_seconds created_at = 0;
};

struct key_record {
    std::uint64_t key_id = 0;
    key_hash hash{};
    std::string user;
    std::string label;
    unix_seconds created_at = 0;
    unix_seconds expires_at = 0;
    unix_seconds revoked_at = 0;
};

// Requests decided: admitted within the limit, limited (answered 429), or shadow-limited
// (answered 200 in shadow mode where enforcement would have limited them).
struct usage_count {
    std::uint64_t admitted = 0;
    std::uint64_t limited = 0;
    std::uint64_t shadow_limited = 0;

    usage_count& operator+=(const usage_count& other) noexcept {
        admitted += other.admitted;
        limited += other.limited;
        shadow_limited += other.shadow_limited;
        return *this;
    }
};

// How finely usage is kept: per second (as written), and rolled up per minute and per hour.
// The value is the period in seconds.
enum class usage_resolution : std::int64_t { second = 1, minute = 60, hour = 3600 };

inline constexpr std::int64_t period_of(usage_resolution r) noexcept {
    return static_cast<std::int64_t>(r);
}

// Requests of one key in one wall-clock second (or, in a roll-up, one minute or hour).
struct usage_bucket {
    unix_seconds start = 0;  // the start of the bucket's period
    std::uint64_t key_id = 0;
    usage_count count;
};

}  // namespace rl::storage
