#pragma once

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

namespace rl::service {

// Builds header values, bodies and whole replies by appending pieces: they are made once per
// request, and fmt::format would parse its format string each time.
class text {
public:
    explicit text(std::size_t capacity) { out_.reserve(capacity); }
    text& operator<<(std::string_view piece) {
        out_.append(piece);
        return *this;
    }
    text& operator<<(long long number) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
        out_.append(digits, end);
        return *this;
    }
    std::size_t size() const noexcept { return out_.size(); }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

}  // namespace rl::service
