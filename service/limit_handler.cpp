#include "service/limit_handler.hpp"

#include <vector>

namespace rl::service {

namespace {

// A result that is final at once (no usage to write).
limit_result finish(metrics& m, limit_outcome outcome, const limiter::decision& d = {},
                    const user_entry* user = nullptr, std::uint64_t key_id = 0) {
    m.count(outcome);
    return {outcome, d, user, usage_event{key_id}};
}

}  // namespace

limit_result limit_handler::decide(std::optional<std::string_view> api_key, limiter::time_point now,
                                   common::unix_seconds wall_now) {
    if (!api_key || api_key->empty()) return finish(metrics_, limit_outcome::missing_key);
    if (!common::is_well_formed_key(*api_key)) return finish(metrics_, limit_outcome::invalid_key);
    if (!ready_.load(std::memory_order_acquire)) return finish(metrics_, limit_outcome::not_ready);

    const key_lookup found = keys_.find(common::sha256(*api_key), wall_now);
    if (found.status == key_status::unknown) return finish(metrics_, limit_outcome::invalid_key);
    if (found.status == key_status::expired)
        return finish(metrics_, limit_outcome::expired_key, {}, nullptr, found.key_id);
    const user_entry& user = *found.user;
    if (user.disabled.load(std::memory_order_relaxed))
        return finish(metrics_, limit_outcome::user_disabled, {}, &user, found.key_id);

    const limiter::decision d =
        limiter_.decide(user.id, user.limit.load(std::memory_order_relaxed), now);
    const limit_outcome outcome = d.admitted ? limit_outcome::admitted : limit_outcome::limited;
    if (outcome != limit_outcome::admitted) metrics_.count(outcome);
    return limit_result{outcome, d, &user,
                        usage_event{found.key_id, wall_now, usage_kind_of(outcome)}, now};
}

limit_result limit_handler::refuse_repeated_key() {
    return finish(metrics_, limit_outcome::repeated_key);
}

limit_result limit_handler::settle(limit_result result, usage_write usage) {
    if (!result.waits_for_usage()) return result;
    if (usage == usage_write::refused) {
        limiter_.refund(result.user->id, result.decided_at);
        result.outcome = limit_outcome::storage_unavailable;
    }
    metrics_.count(result.outcome);
    return result;
}

limit_result limit_handler::check(std::optional<std::string_view> api_key, limiter::time_point now,
                                  common::unix_seconds wall_now) {
    limit_result result = decide(api_key, now, wall_now);
    if (!result.needs_usage()) return result;
    thread_local std::vector<usage_event> one(1);
    one[0] = result.usage;
    return settle(result, usage_.record(one));
}

}  // namespace rl::service
