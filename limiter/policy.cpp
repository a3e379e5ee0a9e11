#include "limiter/policy.hpp"

#include <algorithm>
#include <tuple>

#include "limiter/calendar.hpp"

namespace rl::limiter {

namespace {

constexpr std::string_view example = "write it as WINDOW:QUOTA, e.g. 1m:300 or day:10000";

// A whole number of at most ten digits; no sign, no spaces.
std::optional<std::uint64_t> parse_count(std::string_view text) noexcept {
    if (text.empty() || text.size() > 10) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

std::string quoted(std::string_view text) {
    return "limit \"" + std::string(text) + "\": ";
}

// "day", "month", or "<n>s|m|h" up to an hour.
parsed<limit> parse_window(std::string_view window, std::string_view text) {
    if (window == "day") return {day_limit(0), {}};
    if (window == "month") return {month_limit(0), {}};
    const std::string bad =
        quoted(text) + "the window must be 1s to 1h (a number of s, m or h), day or month";
    if (window.empty()) return {std::nullopt, bad};
    std::uint64_t unit = 0;
    switch (window.back()) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        default: return {std::nullopt, bad};
    }
    const auto count = parse_count(window.substr(0, window.size() - 1));
    if (!count) return {std::nullopt, bad};
    if (*count == 0) return {std::nullopt, quoted(text) + "a window is at least 1s"};
    if (*count * unit > max_sliding_seconds)
        return {std::nullopt, quoted(text) +
                                  "a sliding window is at most 1h (use day or month "
                                  "for longer periods)"};
    return {sliding_limit(static_cast<std::uint32_t>(*count * unit), 0), {}};
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

auto window_order(const limit& l) noexcept {
    return std::make_tuple(l.kind, l.seconds);
}

}  // namespace

limit sliding_limit(std::uint32_t seconds, std::uint32_t quota) noexcept {
    return {window_kind::sliding, seconds, quota};
}

limit day_limit(std::uint32_t quota) noexcept {
    return {window_kind::day, day_seconds, quota};
}

limit month_limit(std::uint32_t quota) noexcept {
    return {window_kind::month, 0, quota};
}

std::uint32_t quota_ceiling(window_kind kind, std::uint32_t seconds) noexcept {
    if (kind != window_kind::sliding) return max_quota;
    return static_cast<std::uint32_t>(
        std::min<std::uint64_t>(max_quota, std::uint64_t{max_quota_per_second} * seconds));
}

std::optional<std::string> check(const limit& l) {
    switch (l.kind) {
        case window_kind::sliding:
            if (l.seconds < 1 || l.seconds > max_sliding_seconds)
                return "a sliding window is 1 to " + std::to_string(max_sliding_seconds) +
                       " seconds, not " + std::to_string(l.seconds);
            break;
        case window_kind::day:
            if (l.seconds != day_seconds)
                return "a day quota's window is " + std::to_string(day_seconds) + " seconds";
            break;
        case window_kind::month:
            if (l.seconds != 0) return "a month quota's window is given as 0 seconds";
            break;
        default: return "unknown kind of window";
    }
    const std::uint32_t ceiling = quota_ceiling(l.kind, l.seconds);
    if (l.quota < 1 || l.quota > ceiling)
        return "the quota of " + window_name(l) + " must be a whole number from 1 to " +
               std::to_string(ceiling);
    return std::nullopt;
}

parsed<limit> parse_limit(std::string_view text) {
    if (text.empty()) return {std::nullopt, "a limit cannot be empty: " + std::string(example)};
    const std::size_t colon = text.find(':');
    parsed<limit> result = colon == std::string_view::npos
                               ? parsed<limit>{sliding_limit(1, 0), {}}
                               : parse_window(text.substr(0, colon), text);
    if (!result) return result;
    limit& l = *result.value;
    const std::string_view quota = colon == std::string_view::npos ? text : text.substr(colon + 1);
    const std::uint32_t ceiling = quota_ceiling(l.kind, l.seconds);
    const auto count = parse_count(quota);
    if (!count || *count < 1 || *count > ceiling) {
        std::string message =
            quoted(text) + "the quota must be a whole number from 1 to " + std::to_string(ceiling);
        if (!count) message += " (" + std::string(example) + ")";
        return {std::nullopt, message};
    }
    l.quota = static_cast<std::uint32_t>(*count);
    return result;
}

parsed<policy> make_policy(std::vector<limit> limits) {
    if (limits.empty()) return {std::nullopt, "a policy needs at least one limit"};
    if (limits.size() > max_limits)
        return {std::nullopt, "a policy has at most " + std::to_string(max_limits) +
                                  " limits, not " + std::to_string(limits.size())};
    for (const limit& l : limits)
        if (auto why = check(l)) return {std::nullopt, *why};
    std::stable_sort(limits.begin(), limits.end(), [](const limit& a, const limit& b) {
        return window_order(a) < window_order(b);
    });
    for (std::size_t i = 1; i < limits.size(); ++i)
        if (same_window(limits[i - 1], limits[i]))
            return {std::nullopt, "two limits on the window " + window_name(limits[i]) + " (" +
                                      to_string(limits[i - 1]) + " and " + to_string(limits[i]) +
                                      ")"};
    return {policy{std::move(limits)}, {}};
}

parsed<policy> parse_policy(std::string_view text) {
    std::vector<limit> limits;
    while (true) {
        const std::size_t comma = text.find(',');
        auto one = parse_limit(trim(text.substr(0, comma)));
        if (!one) return {std::nullopt, one.error};
        limits.push_back(*one.value);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return make_policy(std::move(limits));
}

std::string window_name(const limit& l) {
    switch (l.kind) {
        case window_kind::day: return "day";
        case window_kind::month: return "month";
        default: break;
    }
    if (l.seconds % 3600 == 0) return std::to_string(l.seconds / 3600) + "h";
    if (l.seconds % 60 == 0) return std::to_string(l.seconds / 60) + "m";
    return std::to_string(l.seconds) + "s";
}

std::string to_string(const limit& l) {
    return window_name(l) + ":" + std::to_string(l.quota);
}

std::string to_string(const policy& p) {
    std::string text;
    for (const limit& l : p.limits) {
        if (!text.empty()) text += ',';
        text += to_string(l);
    }
    return text;
}

bool same_window(const limit& a, const limit& b) noexcept {
    return window_order(a) == window_order(b);
}

std::uint32_t period_seconds(const limit& l, wall_time t) noexcept {
    if (l.kind != window_kind::month) return l.seconds;
    const auto day = floor_div(calendar::unix_ms(t), calendar::ms_per_day);
    const auto start = calendar::period_start(window_kind::month, day);
    return static_cast<std::uint32_t>(calendar::period_end(window_kind::month, start) - start) *
           day_seconds;
}

}  // namespace rl::limiter
