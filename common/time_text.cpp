#include "common/time_text.hpp"

#include <cstdio>
#include <ctime>
#include <limits>

namespace rl::common {

namespace {

std::optional<std::int64_t> parse_digits(std::string_view text) noexcept {
    if (text.empty() || text.size() > 12) return std::nullopt;
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(std::int64_t y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

}  // namespace

unix_seconds wall_now() noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<std::chrono::seconds> parse_duration(std::string_view text) noexcept {
    if (text.empty()) return std::nullopt;
    std::int64_t unit = 1;
    switch (text.back()) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: unit = 0;
    }
    if (unit != 0)
        text.remove_suffix(1);
    else
        unit = 1;
    const auto count = parse_digits(text);
    if (!count || *count > std::numeric_limits<std::int64_t>::max() / unit / 1000)
        return std::nullopt;
    return std::chrono::seconds(*count * unit);
}

std::optional<std::chrono::milliseconds> parse_duration_ms(std::string_view text) noexcept {
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
        const auto count = parse_digits(text.substr(0, text.size() - 2));
        if (!count || *count > std::numeric_limits<std::int64_t>::max() / 1000) return std::nullopt;
        return std::chrono::milliseconds(*count);
    }
    const auto seconds = parse_duration(text);
    if (!seconds) return std::nullopt;
    return std::chrono::milliseconds(seconds->count() * 1000);
}

std::optional<unix_seconds> parse_rfc3339(std::string_view text) noexcept {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
        text[16] != ':')
        return std::nullopt;
    const auto year = parse_digits(text.substr(0, 4));
    const auto month = parse_digits(text.substr(5, 2));
    const auto day = parse_digits(text.substr(8, 2));
    const auto hour = parse_digits(text.substr(11, 2));
    const auto minute = parse_digits(text.substr(14, 2));
    const auto second = parse_digits(text.substr(17, 2));
    if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
    static constexpr unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*month < 1 || *month > 12 || *day < 1) return std::nullopt;
    const unsigned max_day = month_days[*month - 1] + (*month == 2 && is_leap(*year) ? 1 : 0);
    if (*day > max_day || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;

    std::string_view rest = text.substr(19);
    if (!rest.empty() && rest.front() == '.') {
        std::size_t i = 1;
        while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') ++i;
        if (i == 1) return std::nullopt;
        rest.remove_prefix(i);
    }
    std::int64_t offset = 0;
    if (rest == "Z" || rest == "z") {
        offset = 0;
    } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
        const auto oh = parse_digits(rest.substr(1, 2));
        const auto om = parse_digits(rest.substr(4, 2));
        if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
        offset = (*oh * 3600 + *om * 60) * (rest[0] == '-' ? -1 : 1);
    } else {
        return std::nullopt;
    }
    const std::int64_t days =
        days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
    return days * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
}

std::string format_rfc3339(unix_seconds t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::string format_rfc3339_ms(std::int64_t unix_ms) {
    std::string text = format_rfc3339(unix_ms / 1000);
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(unix_ms % 1000));
    text.insert(text.size() - 1, ms);
    return text;
}

std::optional<unix_seconds> parse_time_point(std::string_view text, unix_seconds now) noexcept {
    if (text == "now") return now;
    if (auto t = parse_rfc3339(text)) return t;
    if (auto d = parse_duration(text)) return now - d->count();
    return std::nullopt;
}

}  // namespace rl::common
