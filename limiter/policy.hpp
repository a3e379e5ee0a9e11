#pragma once
// A policy: the limits one user is held to, each "at most `quota` admits per window". One
// grammar for reading and writing them: "1s:10", "90s:5", "1m:300", "1h:5000", "day:10000",
// "month:100000"; a bare "N" means "1s:N"; a policy is its limits joined by commas.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limiter/clock.hpp"

namespace rl::limiter {

enum class window_kind : std::uint8_t { sliding, day, month };

struct limit {
    window_kind kind = window_kind::sliding;
    // Sliding: the window, 1..max_sliding_seconds. Day: 86400. Month: 0, since its length
    // depends on the month (period_seconds gives it).
    std::uint32_t seconds = 1;
    std::uint32_t quota = 0;

    friend bool operator==(const limit& a, const limit& b) noexcept {
        return a.kind == b.kind && a.seconds == b.seconds && a.quota == b.quota;
    }
    friend bool operator!=(const limit& a, const limit& b) noexcept { return !(a == b); }
};

inline constexpr std::uint32_t max_sliding_seconds = 3600;
inline constexpr std::uint32_t day_seconds = 86400;
inline constexpr std::size_t max_limits = 8;
inline constexpr std::uint32_t max_quota = 1'000'000'000;
// A sliding window holds at most this many admits per second of its length (so "1s" keeps the
// single-limit bound and longer windows scale with it, up to max_quota).
inline constexpr std::uint32_t max_quota_per_second = 100'000;

// Limits of one policy, sorted by window (shortest first, then day, then month), no two on the
// same window.
struct policy {
    std::vector<limit> limits;

    friend bool operator==(const policy& a, const policy& b) noexcept {
        return a.limits == b.limits;
    }
    friend bool operator!=(const policy& a, const policy& b) noexcept { return !(a == b); }
};

// A value, or why there is none (a message meant for the person who wrote the text).
template <typename T>
struct parsed {
    std::optional<T> value;
    std::string error;

    explicit operator bool() const noexcept { return value.has_value(); }
};

limit sliding_limit(std::uint32_t seconds, std::uint32_t quota) noexcept;
limit day_limit(std::uint32_t quota) noexcept;
limit month_limit(std::uint32_t quota) noexcept;

// The largest quota a limit on this window may have.
std::uint32_t quota_ceiling(window_kind kind, std::uint32_t seconds) noexcept;

// Why the limit is not valid, if it is not.
std::optional<std::string> check(const limit& l);

parsed<limit> parse_limit(std::string_view text);
// Checks each limit, their number (1..max_limits) and that no window repeats; sorts them.
parsed<policy> make_policy(std::vector<limit> limits);
// "1s:10,1m:300,day:10000" (spaces around the commas are allowed).
parsed<policy> parse_policy(std::string_view text);

// The window as written and as named in RateLimit headers: "1s", "90s", "1m", "1h", "day".
std::string window_name(const limit& l);
std::string to_string(const limit& l);
std::string to_string(const policy& p);

bool same_window(const limit& a, const limit& b) noexcept;

// The limit's window in seconds at wall time `t`: the sliding window, or the length of the UTC
// day or month that holds `t`.
std::uint32_t period_seconds(const limit& l, wall_time t) noexcept;

}  // namespace rl::limiter
