// The soak's exactness probe: hammers a few users' keys (which nothing else uses) from several
// keep-alive connections each, and proves from client-side times that no 1-second interval
// admitted more than the user's limit.
//   soak_sampler URL SECONDS FILE      FILE: lines "key,limit"
// Prints one line "SAMPLER key=value ..."; exits 1 on any excess or any answer but 200/429.

#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admit_log.hpp"
#include "tests/support/http_client.hpp"

namespace {

struct sampled_user {
    std::string key;
    std::size_t limit = 0;
    std::mutex mutex;
    std::vector<rl::testing::timed_admit> admits;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        fmt::print(stderr, "usage: soak_sampler URL SECONDS FILE\n");
        return 2;
    }
    const std::string url = std::string(argv[1]) + "/limit";
    const auto seconds = std::chrono::seconds(std::stoi(argv[2]));
    std::vector<std::unique_ptr<sampled_user>> users;
    std::ifstream in(argv[3]);
    for (std::string line; std::getline(in, line);) {
        const auto comma = line.find(',');
        if (comma == std::string::npos) continue;
        auto user = std::make_unique<sampled_user>();
        user->key = line.substr(0, comma);
        user->limit = std::stoul(line.substr(comma + 1));
        users.push_back(std::move(user));
    }

    using clock = std::chrono::steady_clock;
    const auto stop = clock::now() + seconds;
    std::atomic<std::uint64_t> requests{0}, limited{0}, other{0};
    std::vector<std::thread> threads;
    for (auto& user : users) {
        for (int connection = 0; connection < 2; ++connection) {
            threads.emplace_back([&, u = user.get()] {
                rl::testing::http_session session;
                const std::string header = "X-API-KEY: " + u->key;
                while (clock::now() < stop) {
                    const auto sent = clock::now();
                    const int status = session.get_status(url, header);
                    const auto answered = clock::now();
                    ++requests;
                    if (status == 200) {
                        std::lock_guard lock(u->mutex);
                        u->admits.push_back({sent, answered});
                    } else if (status == 429) {
                        ++limited;
                    } else {
                        ++other;
                    }
                }
            });
        }
    }
    for (auto& t : threads) t.join();

    std::size_t admitted = 0, excess = 0;
    double worst_share = 1e9;  // the least-served user's admits against limit x seconds
    for (auto& user : users) {
        admitted += user->admits.size();
        excess += rl::testing::proven_excess(user->admits, user->limit);
        worst_share = std::min(worst_share, static_cast<double>(user->admits.size()) /
                                                static_cast<double>(user->limit * seconds.count()));
    }
    fmt::print(
        "SAMPLER users={} requests={} admitted={} limited={} other={} proven_excess={} "
        "least_served_share={:.2f}\n",
        users.size(), requests.load(), admitted, limited.load(), other.load(), excess, worst_share);
    return excess == 0 && other == 0 ? 0 : 1;
}
