#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace rl::service {

// Builds header values, bodies and whole replies by appending pieces: they are made once per
// request, and fmt::format would parse its format string each time. The buffer is sized up
// front and written through a cursor, so a piece costs one inlined copy, not a call into
// std::string::append with its bookkeeping; it grows (doubling) only if the estimate was short.
class text {
public:
    explicit text(std::size_t capacity = 0) { out_.resize(capacity); }
    text& operator<<(std::string_view piece) {
        if (piece.size() > out_.size() - used_) grow(piece.size());
        std::memcpy(out_.data() + used_, piece.data(), piece.size());
        used_ += piece.size();
        return *this;
    }
    text& operator<<(long long number) {
        constexpr std::size_t digits = 20;  // the longest long long, sign included
        if (digits > out_.size() - used_) grow(digits);
        char* at = out_.data() + used_;
        used_ += static_cast<std::size_t>(std::to_chars(at, at + digits, number).ptr - at);
        return *this;
    }
    std::size_t size() const noexcept { return used_; }
    std::string_view view() const noexcept { return {out_.data(), used_}; }
    std::string take() {
        out_.resize(used_);
        used_ = 0;
        return std::move(out_);
    }

private:
    void grow(std::size_t more) {
        out_.resize(std::max({std::size_t{256}, 2 * out_.size(), used_ + more}));
    }

    std::string out_;  // [0, used_) written; the rest is room
    std::size_t used_ = 0;
};

}  // namespace rl::service
