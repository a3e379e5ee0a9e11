#pragma once
// List routes answer a page at a time: up to `limit` items after an opaque cursor. The cursor
// names the last item returned, not an offset, so inserts and deletes between pages neither
// repeat nor skip the items that stay.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rl::admin {

inline constexpr std::size_t default_page_size = 1000;
inline constexpr std::size_t max_page_size = 10000;

// base64url (no padding) of a version byte and the position; opaque to clients.
std::string encode_cursor(std::string_view position);
// The position a cursor names; nullopt for anything encode_cursor did not make.
std::optional<std::string> decode_cursor(std::string_view cursor);

// A page size: digits only, from 1 to max_page_size.
std::optional<std::size_t> parse_page_size(std::string_view text) noexcept;

}  // namespace rl::admin
