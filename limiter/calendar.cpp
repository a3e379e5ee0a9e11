#include "limiter/calendar.hpp"

namespace rl::limiter::calendar {

namespace {

struct civil_month {
    std::int64_t year;
    unsigned month;  // 1..12
    unsigned day;    // 1..31
};

// The proleptic Gregorian date of a day since 1970-01-01 (Howard Hinnant's civil_from_days).
civil_month civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned day = doy - (153 * mp + 2) / 5 + 1;
    const unsigned month = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

unsigned days_in_month(std::int64_t year, unsigned month) noexcept {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

}  // namespace

std::int64_t unix_ms(wall_time t) noexcept {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    // duration_cast truncates towards zero; before the epoch that would round up.
    return ms.count() - (wall_time(ms) > t);
}

std::int32_t period_start(window_kind kind, std::int64_t unix_day) noexcept {
    if (kind != window_kind::month) return static_cast<std::int32_t>(unix_day);
    return static_cast<std::int32_t>(unix_day - (civil_from_days(unix_day).day - 1));
}

std::int32_t period_end(window_kind kind, std::int32_t start) noexcept {
    if (kind != window_kind::month) return start + 1;
    const civil_month c = civil_from_days(start);
    return start + static_cast<std::int32_t>(days_in_month(c.year, c.month));
}

}  // namespace rl::limiter::calendar
