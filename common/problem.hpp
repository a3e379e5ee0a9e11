#pragma once
// RFC 9457 problem types are URNs under this prefix on both ports, e.g.
// urn:ratelimitd:problem:rate-limited.

#include <string_view>

namespace rl::common {

inline constexpr std::string_view problem_type_prefix = "urn:ratelimitd:problem:";

}  // namespace rl::common
