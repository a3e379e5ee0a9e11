#pragma once
// Exact sliding-window limiter: no interval of length `window` ever holds more than `limit`
// admitted requests for one user. Pure logic: the caller passes the time in.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace rl::limiter {

using time_point = std::chrono::steady_clock::time_point;
using user_id = std::uint32_t;

inline constexpr std::chrono::nanoseconds window = std::chrono::seconds(1);

struct decision {
    bool admitted = false;
    std::uint32_t limit = 0;
    // Quota left in the window after this decision.
    std::uint32_t remaining = 0;
    // Time until enough admitted requests leave the window to free one unit of quota
    // (zero when the window is empty).
    std::chrono::nanoseconds reset_after{0};
};

// The admitted timestamps of one user inside the last window, oldest first, in a ring that
// grows only as far as the user actually uses it (never past the highest limit used). The first
// few live inside the window itself, so a user who sends a request now and then costs no
// allocation.
class user_window {
public:
    user_window() = default;
    user_window(user_window&& other) noexcept { *this = std::move(other); }
    user_window& operator=(user_window&& other) noexcept;

    decision decide(std::uint32_t limit, std::int64_t now_ns);
    void add(std::int64_t at_ns, std::uint32_t count, std::uint32_t limit);
    // Takes back the oldest admit at or after `at_ns`: never a newer one than asked for, so
    // the window can only end up stricter than if that request had never been admitted.
    void remove(std::int64_t at_ns);
    // Latest time seen: nothing in the window can be newer, so the window is stale after it.
    std::int64_t latest() const noexcept { return latest_; }

    bool listed = false;  // in its shard's list of active windows (limiter bookkeeping)

private:
    static constexpr std::uint32_t inline_capacity = 4;

    std::int64_t* ring() noexcept { return heap_ ? heap_.get() : inline_; }
    std::int64_t& at(std::uint32_t i) noexcept { return ring()[(head_ + i) % capacity_]; }
    void expire(std::int64_t now_ns) noexcept;
    void keep_newest(std::uint32_t count, std::uint32_t capacity);
    void push(std::int64_t at_ns);

    std::int64_t latest_ = INT64_MIN;
    std::uint32_t head_ = 0;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = inline_capacity;
    std::int64_t inline_[inline_capacity] = {};
    std::unique_ptr<std::int64_t[]> heap_;  // set once the ring outgrew inline_
};

// Thread-safe: users are spread over shards, each with its own lock, so threads deciding for
// different users rarely contend, and one user's decisions are serialised.
//
// User ids are dense (the key index numbers users 1, 2, 3, ...), so each shard keeps its users'
// windows in a plain array indexed by id: no hashing, no probing, 64 bytes a user. A shard also
// lists the windows that hold state, so the sweep of idle ones costs what is active, not what
// exists.
class sliding_window_limiter {
public:
    decision decide(user_id user, std::uint32_t limit, time_point now);

    // Seeds a user's window with `count` admits at `at` (used after a restart).
    void restore(user_id user, std::uint32_t limit, std::uint32_t count, time_point at);

    // Takes back an admit decided at `at` (its reply was refused after all), so it does not
    // consume quota.
    void refund(user_id user, time_point at);

    // Drops one user's state (the user was deleted).
    void forget(user_id user);

    // Drops every window with nothing admitted in the last `window`; returns how many remain.
    std::size_t forget_idle(time_point now);

    std::size_t active_users() const;

    // Makes room for users 0..`last` at once, so loading a million users grows nothing later.
    void reserve(user_id last);

private:
    static constexpr std::size_t shard_count = 64;
    struct shard {
        mutable std::mutex mutex;
        std::vector<user_window> windows;  // user u at u / shard_count
        std::vector<user_id> active;       // users whose window is listed
    };
    shard& shard_of(user_id user) noexcept { return shards_[user % shard_count]; }
    static user_window& window_locked(shard& s, user_id user);

    std::array<shard, shard_count> shards_;
};

}  // namespace rl::limiter
