#include "service/terms_follower.hpp"

#include <unordered_map>

#include "service/usage_seeds.hpp"
#include "storage/data_dir.hpp"

namespace rl::service {

terms_follower::terms_follower(const key_index& keys, limiter::policy_limiter& limiter,
                               const limit_handler& handler, const storage::data_dir& store,
                               log_line log)
    : keys_(keys), limiter_(limiter), handler_(handler), store_(store), log_(std::move(log)) {}

void terms_follower::changed(const std::vector<terms_change>& changes) {
    // Decisions on the new terms have started; the admits decided on the old ones must be in
    // usage before it is read, or a new window would miss them. An admit decided on the new
    // terms may be read too, and counted twice in a new window: stricter, never looser.
    handler_.wait_for_admits_in_flight(in_flight_wait);
    const auto now = std::chrono::steady_clock::now();
    const auto wall = std::chrono::system_clock::now();

    seed_needs needs;
    std::vector<limiter::user_id> users;
    users.reserve(changes.size());
    for (const terms_change& c : changes) {
        needs.add_new(c.after->policy, c.before->policy);
        users.push_back(c.user);
    }
    std::unordered_map<std::uint64_t, limiter::user_id> owners;
    if (needs.any())
        for (const auto& [key, user] : keys_.keys_of(users)) owners.emplace(key, user);
    const limiter::seed none;
    try {
        const seed_builder seeds = read_seeds(store_, owners, needs, wall, false);
        for (const terms_change& c : changes) {
            const limiter::seed* s = seeds.seed_of(c.user);
            limiter_.adopt(c.user, c.after->policy, c.before->policy, s ? *s : none, now, wall);
        }
    } catch (const std::exception& e) {
        // Without usage the new windows start from what the old ones hold: windows in both
        // keep their counts; only a window new to the user can start short.
        if (log_) log_("reading usage to seed new windows failed: " + std::string(e.what()));
        for (const terms_change& c : changes)
            limiter_.adopt(c.user, c.after->policy, c.before->policy, none, now, wall);
    }
}

}  // namespace rl::service
