// Memory of the request path's state with every user active at once, which a live server only
// reaches if all users send within the same second. Prints; asserts nothing.
//
//   memory_footprint DATA_DIR   (a data directory filled by `rlctl import`, server stopped)
//
// Stages: the store opened, the key index loaded (every user and key), one admitted request per
// user in the limiter (every window live) on the policy each user has, and every user decided
// three more times, a quarter of a second apart.

#include <fmt/format.h>

#include <chrono>
#include <string>

#include "bench/rss.hpp"
#include "limiter/policy_limiter.hpp"
#include "service/key_index.hpp"
#include "storage/data_dir.hpp"

namespace {

using rl::bench::rss_kib;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(const char* stage, std::chrono::steady_clock::time_point t0) {
    fmt::print("{:<44} RSS {:>8.1f} MiB  ({:.2f} s)\n", stage, rss_kib() / 1024.0,
               seconds_since(t0));
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rl;
    if (argc != 2) {
        fmt::print(stderr, "usage: memory_footprint DATA_DIR\n");
        return 2;
    }
    auto t0 = std::chrono::steady_clock::now();
    report("start", t0);
    auto store = storage::data_dir::open(argv[1]);
    report("store open", t0);

    t0 = std::chrono::steady_clock::now();
    service::key_index keys(10);
    std::vector<std::pair<limiter::user_id, const limiter::policy*>> users;
    keys.load(store->catalog(), [&](const storage::key_record&, const service::user_entry& user) {
        users.emplace_back(user.id, &user.terms.load()->policy);
    });
    report(fmt::format("key index: {} users, {} keys", keys.user_count(), keys.key_count()).c_str(),
           t0);

    t0 = std::chrono::steady_clock::now();
    limiter::policy_limiter limiter;
    limiter.reserve(keys.last_user_id());  // as the server does after loading
    report("limiter: a window for every user", t0);
    const auto now = std::chrono::steady_clock::now();
    const auto wall = std::chrono::system_clock::now();
    std::size_t admitted = 0;
    for (const auto& [id, policy] : users)
        admitted += limiter.decide(id, *policy, now, wall).admitted;
    report(fmt::format("limiter: {} users active ({} admitted)", limiter.active_users(), admitted)
               .c_str(),
           t0);

    // Each user's windows hold admits at several times, as under steady traffic.
    t0 = std::chrono::steady_clock::now();
    for (int round = 1; round <= 3; ++round) {
        const auto at = std::chrono::milliseconds(250 * round);
        for (const auto& [id, policy] : users)
            admitted += limiter.decide(id, *policy, now + at, wall + at).admitted;
    }
    report(fmt::format("limiter: every user decided 3 more times ({} admitted)", admitted).c_str(),
           t0);
    users = {};
    users.shrink_to_fit();
    report("(list of ids freed)", t0);
    return 0;
}
