#pragma once
// /limit without the socket: key → user → limiter → outcome, then the usage write settles it.
// What the caller is answered is service/public_replies.hpp's business.

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>

#include "cluster/ownership.hpp"
#include "limiter/policy_limiter.hpp"
#include "service/key_index.hpp"
#include "service/limit_outcome.hpp"
#include "service/metrics.hpp"
#include "service/usage_recorder.hpp"

namespace rl::service {

struct limit_result {
    limit_outcome outcome = limit_outcome::missing_key;
    limiter::policy_decision decision;
    const user_entry* user = nullptr;
    const service::terms* terms = nullptr;  // the user's terms the decision was made on
    usage_event usage;  // what to count, when needs_usage(); its key_id is set whenever the
                        // key was found (also expired and disabled)
    limiter::time_point decided_at{};  // when the limiter decided (to refund a refused admit)
    limiter::wall_time decided_wall{};
    cluster::boot_ns decided_boot = 0;  // cluster mode: for the reply deadline (rule O3)

    // Decisions are counted in usage: admitted, limited and shadow-limited answers.
    bool needs_usage() const noexcept {
        return outcome == limit_outcome::admitted || outcome == limit_outcome::limited ||
               outcome == limit_outcome::shadow_limited;
    }
    // Only an admit waits until its count is in the WAL: a 429, like a shadow-limited 200 (which
    // never entered the windows), hands out nothing a crash could give again, so it is answered
    // at once and its count goes into the next batch.
    bool waits_for_usage() const noexcept { return outcome == limit_outcome::admitted; }
};

// The usage count a decided outcome adds to (meaningful where needs_usage()).
constexpr usage_kind usage_kind_of(limit_outcome outcome) noexcept {
    return outcome == limit_outcome::limited          ? usage_kind::limited
           : outcome == limit_outcome::shadow_limited ? usage_kind::shadow_limited
                                                      : usage_kind::admitted;
}

// What /readyz reports: the key store loading (no /limit answered yet), ready, or storage
// failing (limits still enforced from memory, but a load balancer should prefer another instance).
enum class readiness { loading, ready, storage_failing };

class limit_handler {
public:
    // `shadow_all`: every plan in shadow mode (--shadow).
    limit_handler(const key_index& keys, limiter::policy_limiter& limiter, usage_recorder& usage,
                  metrics& metrics, const std::atomic<bool>& ready, bool shadow_all = false)
        : keys_(keys),
          limiter_(limiter),
          usage_(usage),
          metrics_(metrics),
          ready_(ready),
          shadow_all_(shadow_all) {}

    // Cluster mode: admit only for the groups `owner` holds (null: one node, every user).
    void set_cluster(const cluster::ownership* owner) noexcept { cluster_ = owner; }
    const cluster::ownership* cluster() const noexcept { return cluster_; }

    // Everything but the usage write. `api_key` is the X-API-KEY header, absent when the
    // request had none. A result that waits_for_usage() is final only after settle(); any other
    // is final (and counted in the metrics) at once.
    limit_result decide(std::optional<std::string_view> api_key, limiter::time_point now,
                        limiter::wall_time wall);

    // A request with more than one X-API-KEY field: refused (400) before any lookup.
    limit_result refuse_repeated_key();

    // The final answer for an admit once the batch holding its count was written, held or
    // refused: an admit whose count was refused is answered 503 and gives its quota back, so
    // usage never misses an admitted request. Any other result is returned as it is.
    limit_result settle(limit_result result, usage_write usage);

    // decide, write the one count, settle: a whole request on its own (tests, benchmarks).
    limit_result check(std::optional<std::string_view> api_key, limiter::time_point now,
                       limiter::wall_time wall);

    // Returns once every admit decided before the call has been settled (its count written,
    // held or refused), or after `at_most`: what a change of terms waits for before it reads
    // usage, so the counts it reads miss no admit.
    void wait_for_admits_in_flight(std::chrono::milliseconds at_most) const;

    readiness ready() const noexcept {
        if (!ready_.load(std::memory_order_acquire)) return readiness::loading;
        return usage_.healthy() ? readiness::ready : readiness::storage_failing;
    }

private:
    const key_index& keys_;
    limiter::policy_limiter& limiter_;
    usage_recorder& usage_;
    metrics& metrics_;
    const std::atomic<bool>& ready_;
    const bool shadow_all_;
    const cluster::ownership* cluster_ = nullptr;
    std::atomic<std::uint64_t> admits_decided_{0};
    std::atomic<std::uint64_t> admits_settled_{0};
};

}  // namespace rl::service
