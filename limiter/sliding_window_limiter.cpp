#include "limiter/sliding_window_limiter.hpp"

#include <algorithm>

namespace rl::limiter {

namespace {

std::int64_t to_ns(time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

constexpr std::int64_t window_ns = window.count();

}  // namespace

user_window& user_window::operator=(user_window&& other) noexcept {
    latest_ = other.latest_;
    head_ = other.head_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    std::copy(std::begin(other.inline_), std::end(other.inline_), inline_);
    heap_ = std::move(other.heap_);
    listed = other.listed;
    other.size_ = 0;
    other.capacity_ = inline_capacity;
    return *this;
}

void user_window::expire(std::int64_t now_ns) noexcept {
    // An admit at exactly now - window has left the half-open window (now - window, now].
    while (size_ > 0 && at(0) <= now_ns - window_ns) {
        head_ = (head_ + 1) % capacity_;
        --size_;
    }
}

void user_window::keep_newest(std::uint32_t count, std::uint32_t capacity) {
    // Linearises the newest `count` admits into a ring of at least `capacity`.
    const std::uint32_t n = std::min(size_, count);
    capacity = std::max({capacity, n, inline_capacity});
    if (capacity > inline_capacity) {
        auto kept = std::make_unique<std::int64_t[]>(capacity);
        for (std::uint32_t i = 0; i < n; ++i) kept[i] = at(size_ - n + i);
        heap_ = std::move(kept);
    } else {
        std::int64_t kept[inline_capacity];
        for (std::uint32_t i = 0; i < n; ++i) kept[i] = at(size_ - n + i);
        std::copy(kept, kept + n, inline_);
        heap_.reset();
    }
    head_ = 0;
    size_ = n;
    capacity_ = capacity;
}

void user_window::push(std::int64_t at_ns) {
    if (size_ == capacity_) keep_newest(size_, capacity_ * 2);  // linearise, then grow
    at(size_) = at_ns;
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
        d.reset_after = std::chrono::nanoseconds(at(freeing) + window_ns - now_ns);
    }
    return d;
}

void user_window::add(std::int64_t at_ns, std::uint32_t count, std::uint32_t limit) {
    // Restores arrive in any order (one per key and second): keep the ring in time order and
    // only the newest `limit` admits, the strictest reading of what happened.
    latest_ = std::max(latest_, at_ns);
    for (std::uint32_t i = 0; i < std::min(count, limit); ++i) push(at_ns);
    keep_newest(size_, capacity_);  // linearise
    std::sort(ring(), ring() + size_);
    if (size_ > limit) keep_newest(limit, capacity_);
}

user_window& sliding_window_limiter::window_locked(shard& s, user_id user) {
    const std::size_t index = user / shard_count;
    if (index >= s.windows.size()) s.windows.resize(std::max(index + 1, s.windows.size() * 2));
    user_window& w = s.windows[index];
    if (!w.listed) {
        w.listed = true;
        s.active.push_back(user);
    }
    return w;
}

void user_window::remove(std::int64_t at_ns) {
    keep_newest(size_, capacity_);  // linearise: ring() is now exactly the admits, oldest first
    std::int64_t* first = ring();
    std::int64_t* last = first + size_;
    std::int64_t* it = std::lower_bound(first, last, at_ns);
    if (it == last) return;
    std::move(it + 1, last, it);
    --size_;
}

decision sliding_window_limiter::decide(user_id user, std::uint32_t limit, time_point now) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    return window_locked(s, user).decide(limit, to_ns(now));
}

void sliding_window_limiter::restore(user_id user, std::uint32_t limit, std::uint32_t count,
                                     time_point at) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    window_locked(s, user).add(to_ns(at), count, limit);
}

void sliding_window_limiter::refund(user_id user, time_point at) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    const std::size_t index = user / shard_count;
    if (index < s.windows.size()) s.windows[index].remove(to_ns(at));
}

void sliding_window_limiter::forget(user_id user) {
    shard& s = shard_of(user);
    std::lock_guard lock(s.mutex);
    const std::size_t index = user / shard_count;
    if (index >= s.windows.size() || !s.windows[index].listed) return;
    s.windows[index] = user_window{};
    s.active.erase(std::find(s.active.begin(), s.active.end(), user));
}

std::size_t sliding_window_limiter::forget_idle(time_point now) {
    const std::int64_t cutoff = to_ns(now) - window_ns;
    std::size_t remaining = 0;
    for (shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (std::size_t i = 0; i < s.active.size();) {
            user_window& w = s.windows[s.active[i] / shard_count];
            if (w.latest() <= cutoff) {
                w = user_window{};  // empty and unlisted; a grown ring goes back to the heap
                s.active[i] = s.active.back();
                s.active.pop_back();
            } else {
                ++i;
            }
        }
        remaining += s.active.size();
    }
    return remaining;
}

std::size_t sliding_window_limiter::active_users() const {
    std::size_t n = 0;
    for (const shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.active.size();
    }
    return n;
}

void sliding_window_limiter::reserve(user_id last) {
    for (std::size_t i = 0; i < shard_count; ++i) {
        std::lock_guard lock(shards_[i].mutex);
        const std::size_t needed = last / shard_count + 1;
        if (shards_[i].windows.size() < needed) shards_[i].windows.resize(needed);
    }
}

}  // namespace rl::limiter
