#include "service/terms.hpp"

namespace rl::service {

namespace {

bool is_single_second(const limiter::policy& p) {
    return p.limits.size() == 1 && p.limits[0].kind == limiter::window_kind::sliding &&
           p.limits[0].seconds == 1;
}

// w of a calendar quota is its period's usual length (a month: 30 days); the reset time the
// RateLimit field gives is exact.
std::uint32_t nominal_seconds(const limiter::limit& l) {
    switch (l.kind) {
        case limiter::window_kind::sliding: return l.seconds;
        case limiter::window_kind::day: return limiter::day_seconds;
        case limiter::window_kind::month: return 30 * limiter::day_seconds;
    }
    return l.seconds;
}

std::string policy_field(const limiter::policy& p) {
    std::string out;
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
        if (i > 0) out += ", ";
        out += '"';
        out += limit_name(p, i);
        out += "\";q=";
        out += std::to_string(p.limits[i].quota);
        out += ";w=";
        out += std::to_string(nominal_seconds(p.limits[i]));
    }
    return out;
}

}  // namespace

std::string limit_name(const limiter::policy& p, std::size_t index) {
    if (is_single_second(p)) return "default";
    return limiter::window_name(p.limits[index]);
}

const terms* terms_book::get(const std::string& plan, const limiter::policy& policy, bool shadow) {
    auto key = std::make_tuple(plan, limiter::to_string(policy), shadow);
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) return it->second;
    const terms& made = kept_.emplace_back(terms{policy, shadow, plan, policy_field(policy)});
    index_.emplace(std::move(key), &made);
    return &made;
}

}  // namespace rl::service
