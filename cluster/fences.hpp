#pragma once
// The arithmetic of the fences (shared/design/cluster.md §6.4), as pure functions of time, so
// that a test can step a manual clock through every edge: the per-group word the request path
// loads, rule O3 at send time, the O4 catalog-lag bound, and the HRW rank. ownership.cpp is
// these functions plus etcd and threads.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <string_view>

namespace rl::cluster {

using boot_ns = std::int64_t;
inline constexpr boot_ns no_bound = std::numeric_limits<boot_ns>::max();

inline constexpr boot_ns to_ns(std::chrono::milliseconds ms) noexcept {
    return static_cast<boot_ns>(ms.count()) * 1'000'000;
}

enum class gate : std::uint8_t {
    admit,      // this node owns the group and is inside every fence
    not_owner,  // another node owns it (or nobody yet): 503 not-owner, retried elsewhere
    fenced,     // owned here, but a fence holds (lease close to expiry, catalog lagging,
                // releasing, catalog not yet at the acquiring revision): 503 fenced
};

// One 64-bit word per group: bit 63 says this node holds owners/<g>; the low 63 bits are the
// boot time before which it may admit (0 while it may not at all). One load decides a request.
namespace group_word {
inline constexpr std::uint64_t owned_bit = std::uint64_t{1} << 63;

inline constexpr std::uint64_t not_owned() noexcept {
    return 0;
}
inline constexpr std::uint64_t owned(boot_ns admit_until) noexcept {
    return owned_bit | static_cast<std::uint64_t>(std::max<boot_ns>(admit_until, 0));
}
inline constexpr bool is_owned(std::uint64_t word) noexcept {
    return (word & owned_bit) != 0;
}
inline constexpr boot_ns admit_until(std::uint64_t word) noexcept {
    return static_cast<boot_ns>(word & ~owned_bit);
}
inline constexpr gate at(std::uint64_t word, boot_ns now) noexcept {
    if (!is_owned(word)) return gate::not_owner;
    return now < admit_until(word) ? gate::admit : gate::fenced;
}
}  // namespace group_word

// O1 and O4 together: admit while now < lease deadline - F and before the O4 bound.
inline constexpr boot_ns admit_until(boot_ns lease_deadline, std::chrono::milliseconds fence,
                                     boot_ns catalog_bound) noexcept {
    return std::min(lease_deadline - to_ns(fence), catalog_bound);
}

// O3: a 200 decided at `decided` may be sent at `now` only if now <= decided + R and
// now < deadline - (F - R). Off when F is 0 (the fast mode has no fences at all).
//
// Why consecutive owners' delivered admits are at least F - R (>= 1 s) apart:
//  * Lease ends (crash, pause, cut-off, lease lost). Every admit was decided at some d with
//    d < deadline - F (O1, the word), where deadline = the send time of a keepalive that
//    succeeded + TTL <= the time etcd expires the lease (etcd renews at receipt, later than the
//    send; a leader change only lengthens leases). It is delivered by d + R (first clause) <
//    deadline - F + R; the second clause states the same bound against the deadline known at
//    send time, so a late reply cannot outlive it whatever the decision path did. The next
//    owner acquires only after etcd deleted owners/<g> with the lease, so at or after the
//    expiry >= deadline, and admits only after that. Gap > F - R.
//  * Planned release at s (O2): the word is fenced at s, so every admit was decided before s
//    (the caller reads the clock before loading the word) and delivered by s + R; the delete
//    is sent after s + F and the next owner admits only after it commits. Gap >= F - R.
//  F >= 1 s + R is checked in validate(), so the gap is at least 1 s and no 1-s window of a
//  user sees two owners' admits.
inline constexpr bool reply_allowed(boot_ns decided, boot_ns now, boot_ns lease_deadline,
                                    std::chrono::milliseconds fence,
                                    std::chrono::milliseconds reply_deadline) noexcept {
    if (fence.count() == 0) return true;
    return now <= decided + to_ns(reply_deadline) &&
           now < lease_deadline - (to_ns(fence) - to_ns(reply_deadline));
}

// O4: the revisions etcd reported (keepalive replies) that the catalog had not applied yet,
// each with when it was first seen. The oldest one bounds admission at seen + lag_stop.
class catalog_lag {
public:
    void saw(std::int64_t revision, boot_ns now) {
        if (revision <= applied_) return;
        if (!pending_.empty() && revision <= pending_.back().revision) return;
        // Bounded: when full, the newest entry takes the higher revision and keeps its earlier
        // time, which can only stop admission sooner.
        if (pending_.size() >= max_pending) {
            pending_.back().revision = revision;
            return;
        }
        pending_.push_back({revision, now});
    }
    // The catalog's applied revision as it reports it now (it only moves forward in practice).
    void applied(std::int64_t revision) {
        applied_ = revision;
        while (!pending_.empty() && pending_.front().revision <= applied_) pending_.pop_front();
    }
    // Admission must end before this boot time (no_bound while nothing seen is unapplied).
    boot_ns bound(std::chrono::milliseconds lag_stop) const noexcept {
        return pending_.empty() ? no_bound : pending_.front().seen + to_ns(lag_stop);
    }
    void reset() {
        pending_.clear();
        applied_ = 0;
    }

private:
    static constexpr std::size_t max_pending = 64;
    struct entry {
        std::int64_t revision;
        boot_ns seen;
    };
    std::deque<entry> pending_;
    std::int64_t applied_ = 0;
};

// Rendezvous hashing: the first 8 bytes of sha256(node_id ":" group) (group in decimal), big
// endian; the highest rank owns the group, ties (never in practice) to the smaller id.
std::uint64_t hrw_rank(std::string_view node_id, std::uint32_t group);

}  // namespace rl::cluster
