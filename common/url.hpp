#pragma once
// Percent-encoding for admin API paths and queries, shared by the server and rlctl.

#include <optional>
#include <string>
#include <string_view>

namespace rl::common {

// Decodes %XX escapes and '+' as a space; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

// Escapes everything but RFC 3986 unreserved characters ('+' too: servers read it as a space),
// so any text is safe as a path segment or a query value.
std::string url_encode(std::string_view text);

}  // namespace rl::common
