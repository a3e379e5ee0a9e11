#pragma once
// Small text helpers shared by both programs and the tests.

#include <string_view>

namespace rl::common {

// `text` without leading and trailing `blanks`.
constexpr std::string_view trim(std::string_view text,
                                std::string_view blanks = " \t\r\n") noexcept {
    const auto first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

}  // namespace rl::common
