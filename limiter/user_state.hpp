#pragma once
// One user's windows under a policy, in a single allocation sized by the policy.
//
// Sliding windows with a quota up to exact_quota_max are exact: they keep the time of every
// admit, so no interval of the window's length ever holds more than the quota.
//
// Sliding windows with a larger quota are slotted: a window of w is split into slot_count slots
// of g = w / slot_count (rounded up to a microsecond), and every slot that overlaps the window
// (now - w, now] counts in full. Counting whole slots only ever adds admits that are older than
// the window, never leaves one out, so a slotted window is
//   - never looser than the exact window of w: it admits only when the exact w-window has room;
//   - never stricter than an exact window of w + g: it admits whenever that one has room.
// (For a 1m window, g is 1 s: quota returns at most 1 s later than it would exactly.) Every
// window gets w / slot_count, under a second too (a 1s window counts slots of 16.667 ms): the ring
// costs the same whatever g is, and the smaller g, the tighter the bound. An exact ring costs 4
// bytes an admit, so past exact_quota_max it would outgrow the widest slot ring. A window whose
// quota drops to the cap or below stays slotted until it holds no more than the cap.
//
// Times are kept in whole microseconds: an admit is filed at its time rounded up and the window
// is measured from now rounded down, so the rounding can only make a window stricter.
//
// Calendar quotas (day, month) count admits in the current UTC period of the wall clock given.
// A period never moves backwards: when the wall clock steps back, counting goes on in the latest
// period seen. Likewise a steady clock that steps back is taken as the latest time seen.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "limiter/clock.hpp"
#include "limiter/policy.hpp"
#include "limiter/policy_decision.hpp"

namespace rl::limiter {

inline constexpr std::uint32_t exact_quota_max = 64;
inline constexpr std::uint32_t slot_count = 60;

// The admits of one wall-clock second, as durable usage records them.
struct second_count {
    std::int64_t unix_second = 0;
    std::uint32_t count = 0;
};

// What windows new to a user's state start from: recent admits per wall-clock second (each put
// at the latest moment it could have happened, so a window can only come out stricter), and the
// admits so far in the current UTC day and month.
struct seed {
    std::vector<second_count> admits;
    std::uint64_t day = 0;
    std::uint64_t month = 0;
};

class user_state {
public:
    user_state() noexcept = default;
    user_state(user_state&& other) noexcept : data_(other.data_) { other.data_ = nullptr; }
    user_state& operator=(user_state&& other) noexcept;
    ~user_state();

    // Holds any state (an allocation) at all.
    explicit operator bool() const noexcept { return data_ != nullptr; }

    // Windows of `p` the state lacks start empty; call reshape first to seed them.
    policy_decision decide(const policy& p, time_point now, wall_time wall);

    // Moves the state to `p`: a window in both keeps what it holds (a new quota only moves the
    // threshold), one no longer in `p` is dropped, one new starts from `s`. With `add`, `s` is
    // added to the windows kept too (sliding: its admits; calendar: the larger of the counts).
    // A window never ends up holding more than the larger of its quota and what it held.
    void reshape(const policy& p, const seed& s, bool add, time_point now, wall_time wall) {
        reshape_adding(p, s, add ? ~std::uint32_t{0} : 0, now, wall);
    }
    // As reshape, adding `s` to the kept windows whose bit is set in `add_to` (bit i: limit i
    // of `p`); windows new to the state start from `s` whatever their bit.
    void reshape_adding(const policy& p, const seed& s, std::uint32_t add_to, time_point now,
                        wall_time wall);

    // Takes back, in every window, the oldest admit at or after `at` (never a newer one).
    void refund(time_point at, wall_time wall_at) noexcept;

    // Drops what cannot matter any more: sliding windows once the longest has been idle for its
    // whole length, calendar counts once their period is over. Returns whether anything is left.
    bool drop_idle(time_point now, wall_time wall);

    // Bytes of the allocation (zero without one).
    std::size_t bytes() const noexcept;

private:
    std::byte* data_ = nullptr;
};

}  // namespace rl::limiter
