#pragma once
// Client-side evidence about a limit: when each admitted request was sent and answered.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace rl::testing {

struct timed_admit {
    std::chrono::steady_clock::time_point sent, answered;
};

// How many runs of limit + 1 admits were all sent and answered within one window. Each one
// proves that some interval of that length admitted more than `limit` (the server decided each
// request between its send and its answer); 0 is what an exact limiter gives. Sorts `admits`.
inline std::size_t proven_excess(
    std::vector<timed_admit>& admits, std::size_t limit,
    std::chrono::steady_clock::duration window = std::chrono::seconds(1)) {
    std::sort(admits.begin(), admits.end(),
              [](const timed_admit& a, const timed_admit& b) { return a.sent < b.sent; });
    std::size_t excess = 0;
    for (std::size_t i = 0; i + limit < admits.size(); ++i) {
        auto last = admits[i].answered;
        for (std::size_t j = i; j <= i + limit; ++j) last = std::max(last, admits[j].answered);
        excess += last - admits[i].sent < window;
    }
    return excess;
}

}  // namespace rl::testing
