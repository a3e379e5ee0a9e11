#pragma once
// Cluster mode: windows longer than the fence after a group moves. The fence keeps consecutive
// owners' admits more than 1 s apart, which is all a 1-s window needs; a minute, an hour or a
// day quota also needs what the earlier owners admitted. Every node counts its own admits in its
// own usage, so the new owner asks every member for the group's counts (their seeds, as after a
// restart), adds its own, and rebuilds those users' windows before it admits for the group.

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "limiter/policy_limiter.hpp"
#include "service/key_index.hpp"

namespace rl::storage {
class data_dir;
}

namespace rl::service {

class group_seeds {
public:
    group_seeds(const key_index& keys, limiter::policy_limiter& limiter,
                const storage::data_dir& store)
        : keys_(keys), limiter_(limiter), store_(store) {}

    // Whether any user of the group has a window longer than 1 s or a calendar quota.
    bool needed(std::uint32_t group) const;

    // This node's counts for those users: {"users":{"<name>":{"admits":[[second,count],...],
    // "day":N,"month":N}}}. Throws storage_error.
    nlohmann::json local(std::uint32_t group) const;

    // Rebuilds those users' windows from this node's counts plus `others` (what local() gave on
    // the other members). Returns how many users were rebuilt.
    std::size_t rebuild(std::uint32_t group, const std::vector<nlohmann::json>& others);

private:
    const key_index& keys_;
    limiter::policy_limiter& limiter_;
    const storage::data_dir& store_;
};

}  // namespace rl::service
