#include "service/limit_handler.hpp"

#include <thread>
#include <vector>

namespace rl::service {

namespace {

// A result that is final at once (no usage to write).
limit_result finish(metrics& m, limit_outcome outcome, const user_entry* user = nullptr,
                    std::uint64_t key_id = 0) {
    m.count(outcome);
    limit_result result;
    result.outcome = outcome;
    result.user = user;
    result.usage.key_id = key_id;
    return result;
}

}  // namespace

limit_result limit_handler::decide(std::optional<std::string_view> api_key, limiter::time_point now,
                                   limiter::wall_time wall) {
    const common::unix_seconds wall_now =
        std::chrono::floor<std::chrono::seconds>(wall.time_since_epoch()).count();
    if (!api_key || api_key->empty()) return finish(metrics_, limit_outcome::missing_key);
    if (!common::is_well_formed_key(*api_key)) return finish(metrics_, limit_outcome::invalid_key);
    if (!ready_.load(std::memory_order_acquire)) return finish(metrics_, limit_outcome::not_ready);

    const key_lookup found = keys_.find(common::sha256(*api_key), wall_now);
    if (found.status == key_status::unknown) return finish(metrics_, limit_outcome::invalid_key);
    if (found.status == key_status::expired)
        return finish(metrics_, limit_outcome::expired_key, nullptr, found.key_id);
    const user_entry& user = *found.user;
    if (user.disabled.load(std::memory_order_relaxed))
        return finish(metrics_, limit_outcome::user_disabled, &user, found.key_id);
    // After the key checks, so a revoked key is a 401 on every node, owner or not.
    cluster::boot_ns boot = 0;
    if (cluster_) {
        boot = cluster::boot_now();  // before the check: rule O3 measures from here
        const cluster::gate gate = cluster_->check(user.group, boot);
        if (gate != cluster::gate::admit)
            return finish(
                metrics_,
                gate == cluster::gate::not_owner ? limit_outcome::not_owner : limit_outcome::fenced,
                &user, found.key_id);
    }

    limit_result result;
    result.terms = user.terms.load(std::memory_order_acquire);
    result.user = &user;
    // A rejected request enters no window, so a shadowed one needs nothing taken back.
    result.decision = limiter_.decide(user.id, result.terms->policy, now, wall);
    result.outcome = result.decision.admitted                ? limit_outcome::admitted
                     : (result.terms->shadow || shadow_all_) ? limit_outcome::shadow_limited
                                                             : limit_outcome::limited;
    result.usage = usage_event{found.key_id, wall_now, usage_kind_of(result.outcome)};
    result.decided_at = now;
    result.decided_wall = wall;
    result.decided_boot = boot;
    if (result.waits_for_usage())
        admits_decided_.fetch_add(1, std::memory_order_acq_rel);
    else
        metrics_.count(result.outcome);
    return result;
}

limit_result limit_handler::refuse_repeated_key() {
    return finish(metrics_, limit_outcome::repeated_key);
}

limit_result limit_handler::settle(limit_result result, usage_write usage) {
    if (!result.waits_for_usage()) return result;
    admits_settled_.fetch_add(1, std::memory_order_acq_rel);
    if (usage == usage_write::refused) {
        limiter_.refund(result.user->id, result.decided_at, result.decided_wall);
        result.outcome = limit_outcome::storage_unavailable;
    } else if (cluster_ && !cluster_->may_reply(result.user->group, result.decided_boot)) {
        // Rule O3: a 200 sent later than its deadline could land after the next owner's first
        // admit. Its count is already written and it keeps its place in the window: usage and the
        // window may hold one admit more than was sent, never one less.
        result.outcome = limit_outcome::fenced;
    }
    metrics_.count(result.outcome);
    return result;
}

void limit_handler::wait_for_admits_in_flight(std::chrono::milliseconds at_most) const {
    const std::uint64_t decided = admits_decided_.load(std::memory_order_acquire);
    const auto until = std::chrono::steady_clock::now() + at_most;
    while (admits_settled_.load(std::memory_order_acquire) < decided &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
}

limit_result limit_handler::check(std::optional<std::string_view> api_key, limiter::time_point now,
                                  limiter::wall_time wall) {
    limit_result result = decide(api_key, now, wall);
    if (!result.needs_usage()) return result;
    thread_local std::vector<usage_event> one(1);
    one[0] = result.usage;
    return settle(result, usage_.record(one));
}

}  // namespace rl::service
