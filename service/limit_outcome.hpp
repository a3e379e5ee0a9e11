#pragma once
// What a /limit request came to: the decision's own vocabulary, which metrics, the access log
// and the public replies each map to their terms.

#include <cstddef>
#include <cstdint>

namespace rl::service {

// Every /limit answer falls in exactly one of these.
enum class limit_outcome : std::uint8_t {
    admitted,
    limited,
    shadow_limited,  // would have been limited, but the user's terms are in shadow mode: a 200
    missing_key,
    invalid_key,
    expired_key,
    user_disabled,
    not_ready,
    storage_unavailable,
    repeated_key,  // two or more X-API-KEY fields: 400
    // Cluster mode: 503s the balancer retries on another node; neither consumes quota.
    not_owner,  // another node owns the user's group
    fenced,     // this node owns it but may not admit now (lease near expiry, catalog lagging,
                // a planned release, or a 200 that would have gone out past its deadline)
};
inline constexpr std::size_t limit_outcome_count = 12;

}  // namespace rl::service
