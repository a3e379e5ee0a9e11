#include "limiter/sliding_window_limiter.hpp"

#include <algorithm>

namespace rl::limiter {

namespace {

std::int64_t to_ns(time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

constexpr std::int64_t window_ns = window.count();

}  // namespace

void user_window::expire(std::int64_t now_ns) noexcept {
    // An admit at exactly now - window has left the half-open window (now - window, now].
    while (size_ > 0 && oldest() <= now_ns - window_ns) {
        head_ = (head_ + 1) % static_cast<std::uint32_t>(ring_.size());
        --size_;
    }
}

void user_window::keep_newest(std::uint32_t count) {
    std::vector<std::int64_t> kept;
    const std::uint32_t n = std::min(size_, count);
    kept.reserve(n);
    for (std::uint32_t i = size_ - n; i < size_; ++i)
        kept.push_back(ring_[(head_ + i) % ring_.size()]);
    ring_ = std::move(kept);
    head_ = 0;
    size_ = n;
}

void user_window::push(std::int64_t at_ns) {
    if (size_ == ring_.size()) {
        keep_newest(size_);  // linearise, then grow
        ring_.resize(std::max<std::size_t>(4, ring_.size() * 2));
    }
    ring_[(head_ + size_) % ring_.size()] = at_ns;
    ++size_;
}

decision user_window::decide(std::uint32_t limit, std::int64_t now_ns) {
    // A clock that steps back must not free quota: time never runs backwards inside a window.
    now_ns = std::max(now_ns, latest_);
    latest_ = now_ns;
    expire(now_ns);

    // After the limit was lowered the window may hold more than `limit` admits. They all stay:
    // dropping some would hand their quota out again if the limit were raised within the window.
    decision d;
    d.limit = limit;
    d.admitted = size_ < limit;
    if (d.admitted) push(now_ns);
    d.remaining = size_ < limit ? limit - size_ : 0;
    if (limit == 0) {
        d.reset_after = window;
    } else if (size_ > 0) {
        // Quota frees once all but limit - 1 admits have left the window.
        const std::uint32_t freeing = size_ < limit ? 0 : size_ - limit;
        const std::int64_t at = ring_[(head_ + freeing) % ring_.size()];
        d.reset_after = std::chrono::nanoseconds(at + window_ns - now_ns);
    }
    return d;
}

void user_window::add(std::int64_t at_ns, std::uint32_t count, std::uint32_t limit) {
    // Restores arrive in any order (one per key and second): keep the ring in time order and
    // only the newest `limit` admits, the strictest reading of what happened.
    latest_ = std::max(latest_, at_ns);
    for (std::uint32_t i = 0; i < std::min(count, limit); ++i) push(at_ns);
    keep_newest(size_);  // linearise
    std::sort(ring_.begin(), ring_.end());
    if (size_ > limit) keep_newest(limit);
}

void user_window::remove(std::int64_t at_ns) {
    keep_newest(size_);  // linearise: ring_ is now exactly the admits, oldest first
    const auto it = std::lower_bound(ring_.begin(), ring_.end(), at_ns);
    if (it == ring_.end()) return;
    ring_.erase(it);
    --size_;
}

decision sliding_window_limiter::decide(user_id user, std::uint32_t limit, time_point now) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    return s.windows[user].decide(limit, to_ns(now));
}

void sliding_window_limiter::restore(user_id user, std::uint32_t limit, std::uint32_t count,
                                     time_point at) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    s.windows[user].add(to_ns(at), count, limit);
}

void sliding_window_limiter::refund(user_id user, time_point at) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    const auto it = s.windows.find(user);
    if (it != s.windows.end()) it->second.remove(to_ns(at));
}

void sliding_window_limiter::forget(user_id user) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    s.windows.erase(user);
}

std::size_t sliding_window_limiter::forget_idle(time_point now) {
    const std::int64_t cutoff = to_ns(now) - window_ns;
    std::size_t remaining = 0;
    for (shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (auto it = s.windows.begin(); it != s.windows.end();) {
            if (it->second.latest() <= cutoff)
                it = s.windows.erase(it);
            else
                ++it;
        }
        remaining += s.windows.size();
    }
    return remaining;
}

std::size_t sliding_window_limiter::active_users() const {
    std::size_t n = 0;
    for (const shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.windows.size();
    }
    return n;
}

}  // namespace rl::limiter
