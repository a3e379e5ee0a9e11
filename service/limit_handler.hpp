#pragma once
// /limit without the socket: key → user → limiter → outcome, then the usage write settles it.
// What the caller is answered is service/public_replies.hpp's business.

#include <atomic>
#include <optional>
#include <string_view>

#include "limiter/sliding_window_limiter.hpp"
#include "service/key_index.hpp"
#include "service/limit_outcome.hpp"
#include "service/metrics.hpp"
#include "service/usage_recorder.hpp"

namespace rl::service {

struct limit_result {
    limit_outcome outcome = limit_outcome::missing_key;
    limiter::decision decision;
    const user_entry* user = nullptr;
    usage_event usage;  // what to count, when needs_usage(); its key_id is set whenever the
                        // key was found (also expired and disabled)
    limiter::time_point decided_at{};  // when the limiter decided (to refund a refused admit)

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
    limit_handler(const key_index& keys, limiter::sliding_window_limiter& limiter,
                  usage_recorder& usage, metrics& metrics, const std::atomic<bool>& ready)
        : keys_(keys), limiter_(limiter), usage_(usage), metrics_(metrics), ready_(ready) {}

    // Everything but the usage write. `api_key` is the X-API-KEY header, absent when the
    // request had none. A result that waits_for_usage() is final only after settle(); any other
    // is final (and counted in the metrics) at once.
    limit_result decide(std::optional<std::string_view> api_key, limiter::time_point now,
                        common::unix_seconds wall_now);

    // A request with more than one X-API-KEY field: refused (400) before any lookup.
    limit_result refuse_repeated_key();

    // The final answer for an admit once the batch holding its count was written, held or
    // refused: an admit whose count was refused is answered 503 and gives its quota back, so
    // usage never misses an admitted request. Any other result is returned as it is.
    limit_result settle(limit_result result, usage_write usage);

    // decide, write the one count, settle: a whole request on its own (tests, benchmarks).
    limit_result check(std::optional<std::string_view> api_key, limiter::time_point now,
                       common::unix_seconds wall_now);

    readiness ready() const noexcept {
        if (!ready_.load(std::memory_order_acquire)) return readiness::loading;
        return usage_.healthy() ? readiness::ready : readiness::storage_failing;
    }

private:
    const key_index& keys_;
    limiter::sliding_window_limiter& limiter_;
    usage_recorder& usage_;
    metrics& metrics_;
    const std::atomic<bool>& ready_;
};

}  // namespace rl::service
