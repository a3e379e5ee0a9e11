#include "limiter/policy_limiter.hpp"

#include <algorithm>

namespace rl::limiter {

template <typename Change>
auto policy_limiter::change_locked(shard& s, user_id user, Change&& change) {
    const std::size_t index = user / shard_count;
    if (index >= s.states.size()) s.states.resize(std::max(index + 1, s.states.size() * 2));
    user_state& state = s.states[index];
    const bool had = static_cast<bool>(state);
    auto result = change(state);
    if (had != static_cast<bool>(state)) {
        if (had)
            s.active.erase(std::find(s.active.begin(), s.active.end(), user));
        else
            s.active.push_back(user);
    }
    return result;
}

policy_decision policy_limiter::decide(user_id user, const policy& p, time_point now,
                                       wall_time wall) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    return change_locked(s, user, [&](user_state& state) { return state.decide(p, now, wall); });
}

void policy_limiter::reshape(user_id user, const policy& p, const seed& seed, time_point now,
                             wall_time wall) {
    reshape(user, p, seed, 0, now, wall);
}

void policy_limiter::restore(user_id user, const policy& p, const seed& seed, time_point now,
                             wall_time wall) {
    reshape(user, p, seed, ~std::uint32_t{0}, now, wall);
}

void policy_limiter::adopt(user_id user, const policy& p, const policy& before, const seed& seed,
                           time_point now, wall_time wall) {
    std::uint32_t add_to = 0;
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
        bool kept = false;
        for (const limit& l : before.limits) kept = kept || same_window(l, p.limits[i]);
        if (!kept) add_to |= std::uint32_t{1} << i;
    }
    const bool seeded = !seed.admits.empty() || seed.day > 0 || seed.month > 0;
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    const std::size_t index = user / shard_count;
    const bool held = index < s.states.size() && static_cast<bool>(s.states[index]);
    if (!held && !seeded) return;  // nothing to carry over: the first decision lays it out
    change_locked(s, user, [&](user_state& state) {
        state.reshape_adding(p, seed, add_to, now, wall);
        return 0;
    });
}

void policy_limiter::reshape(user_id user, const policy& p, const seed& seed, std::uint32_t add_to,
                             time_point now, wall_time wall) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    change_locked(s, user, [&](user_state& state) {
        state.reshape_adding(p, seed, add_to, now, wall);
        return 0;
    });
}

void policy_limiter::refund(user_id user, time_point at, wall_time wall_at) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    const std::size_t index = user / shard_count;
    if (index < s.states.size()) s.states[index].refund(at, wall_at);
}

void policy_limiter::forget(user_id user) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    if (user / shard_count >= s.states.size()) return;
    change_locked(s, user, [](user_state& state) {
        state = user_state{};
        return 0;
    });
}

std::size_t policy_limiter::forget_idle(time_point now, wall_time wall) {
    std::size_t remaining = 0;
    for (shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (std::size_t i = 0; i < s.active.size();) {
            if (s.states[s.active[i] / shard_count].drop_idle(now, wall)) {
                ++i;
            } else {
                s.active[i] = s.active.back();
                s.active.pop_back();
            }
        }
        remaining += s.active.size();
    }
    return remaining;
}

std::size_t policy_limiter::active_users() const {
    std::size_t n = 0;
    for (const shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.active.size();
    }
    return n;
}

std::size_t policy_limiter::state_bytes(user_id user) const {
    const shard& s = shards_[user % shard_count];
    std::lock_guard lock(s.mutex);
    const std::size_t index = user / shard_count;
    return index < s.states.size() ? s.states[index].bytes() : 0;
}

void policy_limiter::reserve(user_id last) {
    for (shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        const std::size_t needed = last / shard_count + 1;
        if (s.states.size() < needed) s.states.resize(needed);
    }
}

}  // namespace rl::limiter
