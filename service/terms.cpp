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

std::vector<std::string> names_of(const limiter::policy& p) {
    std::vector<std::string> names;
    for (const limiter::limit& l : p.limits)
        names.push_back(is_single_second(p) ? "default" : limiter::window_name(l));
    return names;
}

std::string policy_field(const limiter::policy& p, const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
        if (i > 0) out += ", ";
        out += '"';
        out += names[i];
        out += "\";q=";
        out += std::to_string(p.limits[i].quota);
        out += ";w=";
        out += std::to_string(nominal_seconds(p.limits[i]));
    }
    return out;
}

}  // namespace

const terms* terms_book::get(const std::string& plan, const limiter::policy& policy, bool shadow) {
    auto key = std::make_tuple(plan, limiter::to_string(policy), shadow);
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) return it->second;
    auto names = names_of(policy);
    std::string field = policy_field(policy, names);
    const terms& made =
        kept_.emplace_back(terms{policy, shadow, plan, std::move(names), std::move(field)});
    index_.emplace(std::move(key), &made);
    return &made;
}

}  // namespace rl::service
