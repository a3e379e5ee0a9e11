// Memory of the policy limiter with every user active at once on a three-limit plan. Prints;
// asserts nothing.
//
//   limiter_memory [USERS] [PLAN]   (defaults: 1000000 and "1s:10,1m:300,day:10000")
//
// Each user is driven through the plan on a manual clock: twelve requests, a quarter of a
// second apart, round by round over all users, so every user's windows hold admits at the end.

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "bench/rss.hpp"
#include "limiter/policy_limiter.hpp"

namespace {

using rl::bench::rss_kib;

}  // namespace

int main(int argc, char** argv) {
    using namespace rl::limiter;
    const long users = argc > 1 ? std::atol(argv[1]) : 1000000;
    const auto plan = parse_policy(argc > 2 ? argv[2] : "1s:10,1m:300,day:10000");
    if (users < 1 || !plan) {
        fmt::print(stderr, "usage: limiter_memory [USERS] [PLAN]{}{}\n", plan ? "" : ": ",
                   plan.error);
        return 2;
    }
    const policy& p = *plan.value;
    const time_point steady0 = time_point{} + std::chrono::hours(1000);
    const wall_time wall0 = wall_time{} + std::chrono::seconds(1780000000);  // 2026-05-28 UTC

    const long rss_start = rss_kib();
    policy_limiter limiter;
    limiter.reserve(static_cast<user_id>(users));
    const long rss_reserved = rss_kib();

    std::uint64_t admitted = 0;
    constexpr int rounds = 12;
    for (int round = 0; round < rounds; ++round) {
        const auto at = std::chrono::milliseconds(250 * round);
        for (long u = 1; u <= users; ++u)
            admitted +=
                limiter.decide(static_cast<user_id>(u), p, steady0 + at, wall0 + at).admitted;
    }
    const long rss_end = rss_kib();

    std::uint64_t state = 0;
    for (long u = 1; u <= users; ++u) state += limiter.state_bytes(static_cast<user_id>(u));

    const double per_user = (rss_end - rss_start) * 1024.0 / static_cast<double>(users);
    fmt::print("plan {}, {} users, {} requests each ({} admitted in all)\n", to_string(p), users,
               rounds, admitted);
    fmt::print("RSS at start      {:>8.1f} MiB\n", rss_start / 1024.0);
    fmt::print("RSS after reserve {:>8.1f} MiB\n", rss_reserved / 1024.0);
    fmt::print("RSS at the end    {:>8.1f} MiB  ({} users active)\n", rss_end / 1024.0,
               limiter.active_users());
    fmt::print("per user: {:.1f} bytes of RSS, of which {:.1f} bytes of state allocation\n",
               per_user, static_cast<double>(state) / static_cast<double>(users));
    fmt::print("command: limiter_memory {} \"{}\"\n", users, to_string(p));
}
