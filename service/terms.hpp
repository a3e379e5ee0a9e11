#pragma once
// What a user is held to: a policy, whether it is only shadowed, and the RateLimit-Policy field
// that announces it. One immutable object per distinct set of terms, shared by every user on
// them, so /limit reads a user's terms with one atomic load and no lock.

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "limiter/policy.hpp"

namespace rl::service {

struct terms {
    limiter::policy policy;
    bool shadow = false;  // decide and count, but never refuse
    std::string plan;     // the plan these terms come from; empty for a user's own limits
    // What each limit is called in the RateLimit fields and in violated-policies, in the
    // policy's order: its window ("1s", "1m", "day"), except that a policy of one 1-second
    // limit keeps the name "default" it has always had.
    std::vector<std::string> names;
    std::string policy_field;  // RateLimit-Policy, e.g. "1s";q=10;w=1, "day";q=10000;w=86400
};

// Hands out one terms object per distinct (plan, policy, shadow). Objects are kept until the
// book goes (a plan edited a thousand times leaves a thousand small objects), so a pointer
// handed out stays valid while requests still use it. Thread-safe.
class terms_book {
public:
    const terms* get(const std::string& plan, const limiter::policy& policy, bool shadow);

private:
    std::mutex mutex_;
    std::deque<terms> kept_;
    std::map<std::tuple<std::string, std::string, bool>, const terms*> index_;
};

}  // namespace rl::service
