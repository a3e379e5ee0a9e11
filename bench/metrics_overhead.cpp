// What /metrics adds to a /limit request: one clock read, the latency histogram's two relaxed
// increments and the decision counter's one, on 1 and on 2 threads hitting the same counters.
// Prints nanoseconds per request; asserts nothing.
//
//   cmake --build build-rel --target metrics_overhead && build-rel/metrics_overhead

#include <fmt/format.h>

#include <chrono>
#include <thread>
#include <vector>

#include "service/metrics.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int per_thread = 20'000'000;

// `with_metrics` false: the clock read alone, to see what the increments add to it.
double ns_per_request(rl::service::metrics& m, int threads, bool with_metrics) {
    const auto start = clock_type::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&m, with_metrics] {
            auto started = clock_type::now();
            std::int64_t sink = 0;
            for (int i = 0; i < per_thread; ++i) {
                const auto now = clock_type::now();  // the one read the reply path adds
                if (with_metrics) {
                    m.count(rl::service::limit_outcome::admitted);
                    m.observe_latency(now - started);
                } else {
                    sink += (now - started).count();
                }
                started = now;
            }
            if (sink == 42) fmt::print("");  // keeps the baseline loop from being optimised out
        });
    for (auto& w : workers) w.join();
    const std::chrono::duration<double, std::nano> took = clock_type::now() - start;
    return took.count() / per_thread;  // wall time per request on each thread
}

}  // namespace

int main() {
    for (int threads : {1, 2}) {
        rl::service::metrics m;
        const double clock_only = ns_per_request(m, threads, false);
        const double full = ns_per_request(m, threads, true);
        fmt::print(
            "{} thread(s): {:.1f} ns per request: clock read {:.1f} ns + 3 relaxed increments "
            "{:.1f} ns\n",
            threads, full, clock_only, full - clock_only);
    }
}
