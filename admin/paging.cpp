#include "admin/paging.hpp"

#include <cstdint>

namespace rl::admin {

namespace {

// Bumped when what a position means changes; older cursors are then refused, not misread.
constexpr char cursor_version = 1;

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) noexcept {
    const auto at = alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

std::string encode_cursor(std::string_view position) {
    std::string bytes(1, cursor_version);
    bytes += position;
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t bits = 0;
    int held = 0;
    for (const char c : bytes) {
        bits = (bits << 8) | static_cast<unsigned char>(c);
        held += 8;
        while (held >= 6) {
            held -= 6;
            out += alphabet[(bits >> held) & 0x3f];
        }
    }
    if (held > 0) out += alphabet[(bits << (6 - held)) & 0x3f];
    return out;
}

std::optional<std::string> decode_cursor(std::string_view cursor) {
    if (cursor.size() % 4 == 1) return std::nullopt;  // no byte count encodes to that length
    std::string bytes;
    std::uint32_t bits = 0;
    int held = 0;
    for (const char c : cursor) {
        const int v = sextet(c);
        if (v < 0) return std::nullopt;
        bits = (bits << 6) | static_cast<std::uint32_t>(v);
        held += 6;
        if (held >= 8) {
            held -= 8;
            bytes += static_cast<char>((bits >> held) & 0xff);
        }
    }
    if ((bits & ((1u << held) - 1)) != 0) return std::nullopt;  // stray low bits: not canonical
    if (bytes.empty() || bytes.front() != cursor_version) return std::nullopt;
    return bytes.substr(1);
}

std::optional<std::size_t> parse_page_size(std::string_view text) noexcept {
    if (text.empty() || text.size() > 5) return std::nullopt;
    std::size_t n = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n < 1 || n > max_page_size) return std::nullopt;
    return n;
}

}  // namespace rl::admin
