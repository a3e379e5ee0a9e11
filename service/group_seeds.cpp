#include "service/group_seeds.hpp"

#include <map>
#include <unordered_map>

#include "service/usage_seeds.hpp"
#include "storage/data_dir.hpp"

namespace rl::service {

namespace {

// Beyond what the fence covers: a sliding window longer than 1 s, or a calendar quota.
bool reaches_past_fence(const limiter::policy& policy) {
    seed_needs needs;
    needs.add(policy);
    return needs.sliding_seconds > 1 || needs.day || needs.month;
}

std::vector<key_index::group_member> long_window_users(const key_index& keys, std::uint32_t group) {
    std::vector<key_index::group_member> users = keys.users_of_group(group);
    users.erase(std::remove_if(users.begin(), users.end(),
                               [](const key_index::group_member& u) {
                                   return !reaches_past_fence(u.terms->policy);
                               }),
                users.end());
    return users;
}

// The seeds of `users` from this node's usage.
seed_builder read_local(const key_index& keys, const storage::data_dir& store,
                        const std::vector<key_index::group_member>& users,
                        limiter::wall_time wall) {
    seed_needs needs;
    std::vector<limiter::user_id> ids;
    for (const auto& u : users) {
        needs.add(u.terms->policy);
        ids.push_back(u.id);
    }
    std::unordered_map<std::uint64_t, limiter::user_id> owners;
    for (const auto& [key, user] : keys.keys_of(ids)) owners.emplace(key, user);
    return read_seeds(store, owners, needs, wall, false);
}

}  // namespace

bool group_seeds::needed(std::uint32_t group) const {
    return !long_window_users(keys_, group).empty();
}

nlohmann::json group_seeds::local(std::uint32_t group) const {
    const auto users = long_window_users(keys_, group);
    nlohmann::json out{{"group", group}, {"users", nlohmann::json::object()}};
    if (users.empty()) return out;
    const seed_builder seeds = read_local(keys_, store_, users, std::chrono::system_clock::now());
    for (const auto& u : users) {
        const limiter::seed* s = seeds.seed_of(u.id);
        if (!s) continue;
        nlohmann::json admits = nlohmann::json::array();
        for (const auto& a : s->admits) admits.push_back({a.unix_second, a.count});
        out["users"][u.name] = {{"admits", admits}, {"day", s->day}, {"month", s->month}};
    }
    return out;
}

std::size_t group_seeds::rebuild(std::uint32_t group, const std::vector<nlohmann::json>& others) {
    const auto users = long_window_users(keys_, group);
    if (users.empty()) return 0;
    const auto wall = std::chrono::system_clock::now();
    const seed_builder mine = read_local(keys_, store_, users, wall);
    for (const auto& u : users) {
        std::map<std::int64_t, std::uint64_t> seconds;  // in time order, as seeds keep them
        limiter::seed merged;
        if (const limiter::seed* s = mine.seed_of(u.id)) {
            for (const auto& a : s->admits) seconds[a.unix_second] += a.count;
            merged.day = s->day;
            merged.month = s->month;
        }
        for (const nlohmann::json& answer : others) {
            const auto& by_user = answer.value("users", nlohmann::json::object());
            const auto it = by_user.find(u.name);
            if (it == by_user.end()) continue;
            for (const auto& a : it->value("admits", nlohmann::json::array()))
                seconds[a.at(0).get<std::int64_t>()] += a.at(1).get<std::uint64_t>();
            merged.day += it->value("day", std::uint64_t{0});
            merged.month += it->value("month", std::uint64_t{0});
        }
        for (const auto& [second, count] : seconds)
            merged.admits.push_back({second, static_cast<std::uint32_t>(count)});
        // Everything the windows should hold is in the seed, this node's own admits included.
        limiter_.forget(u.id);
        limiter_.restore(u.id, u.terms->policy, merged, std::chrono::steady_clock::now(), wall);
    }
    return users.size();
}

}  // namespace rl::service
