#pragma once
// Concurrency for tests: many threads released at once, so they contend as hard as they can.

#include <atomic>
#include <thread>
#include <vector>

namespace rl::testing {

// Runs `body(thread_index)` on `threads` threads released at the same moment.
template <typename Body>
void run_together(int threads, Body body) {
    std::atomic<bool> go{false};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&, i] {
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            body(i);
        });
    go.store(true, std::memory_order_release);
    for (auto& t : pool) t.join();
}

}  // namespace rl::testing
