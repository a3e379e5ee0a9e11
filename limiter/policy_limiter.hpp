#pragma once
// Limits users by policies of several limits: a request is admitted only if every limit has
// room, and an admitted request counts against all of them, a rejected one against none. How
// each kind of window counts (exact, slotted, calendar) is in user_state.hpp. Pure logic: the
// caller passes both clocks in.

#include <array>
#include <cstddef>
#include <mutex>
#include <vector>

#include "limiter/clock.hpp"
#include "limiter/policy.hpp"
#include "limiter/policy_decision.hpp"
#include "limiter/user_state.hpp"

namespace rl::limiter {

// Thread-safe: users are spread over shards, each with its own lock, so one user's decisions are
// serialised and different users rarely contend. User ids are dense, so a shard keeps its users'
// states in a plain array indexed by id (8 bytes a user, plus one allocation per active user),
// and lists the users that hold state, so the sweep of idle ones costs what is active.
class policy_limiter {
public:
    // `p` is the user's policy as it is now. A window the user's state lacks starts empty:
    // after a plan change, reshape first to seed the new windows.
    policy_decision decide(user_id user, const policy& p, time_point now, wall_time wall);

    // Moves the user to `p` (a plan change): windows in both keep what they hold, windows no
    // longer in `p` are dropped, windows new to the user start from `s`.
    void reshape(user_id user, const policy& p, const seed& s, time_point now, wall_time wall);

    // After a restart: as reshape, and the seed is added to windows the user already holds too
    // (sliding windows: its admits; calendar quotas: the larger count). `s` is everything known
    // about the user: all recent seconds of all their keys, and their day and month counts.
    void restore(user_id user, const policy& p, const seed& s, time_point now, wall_time wall);

    // A change of terms from `before` to `p`: as reshape, and windows of `p` that `before` lacks
    // get `s` added even when the state already holds them (a decision made on `p` before this
    // call creates them empty; `s`, read from usage after the change, covers what they missed).
    void adopt(user_id user, const policy& p, const policy& before, const seed& s, time_point now,
               wall_time wall);

    // Takes back an admit decided at `at` (its reply was refused after all), in every window.
    void refund(user_id user, time_point at, wall_time wall_at);

    // Drops one user's state (the user was deleted).
    void forget(user_id user);

    // Drops sliding windows idle for longer than the user's longest one, and calendar counts
    // whose period is over (the rest of a user's calendar counts stay, compactly). Returns how
    // many users still hold state.
    std::size_t forget_idle(time_point now, wall_time wall);

    std::size_t active_users() const;

    // Bytes of the user's state allocation (zero when it holds none).
    std::size_t state_bytes(user_id user) const;

    // Makes room for users 0..`last` at once, so loading a million users grows nothing later.
    void reserve(user_id last);

private:
    static constexpr std::size_t shard_count = 64;
    struct shard {
        mutable std::mutex mutex;
        std::vector<user_state> states;  // user u at u / shard_count
        std::vector<user_id> active;     // users whose state holds an allocation
    };
    shard& shard_of(user_id user) noexcept { return shards_[user % shard_count]; }
    // Runs `change` on the user's state and keeps the shard's list of active users in step.
    template <typename Change>
    auto change_locked(shard& s, user_id user, Change&& change);
    void reshape(user_id user, const policy& p, const seed& s, std::uint32_t add_to, time_point now,
                 wall_time wall);

    std::array<shard, shard_count> shards_;
};

}  // namespace rl::limiter
