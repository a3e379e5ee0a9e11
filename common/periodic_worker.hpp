#pragma once
// A background thread that runs a function now and then again after each delay, until stopped.
// The one way this code base runs periodic work: stop() wakes the thread at once, so shutting
// down never waits out a delay.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace rl::common {

class periodic_worker {
public:
    // `work` returns how long to wait before it runs again (a backoff, for instance).
    using work_fn = std::function<std::chrono::milliseconds()>;

    explicit periodic_worker(work_fn work)
        : thread_([this, work = std::move(work)] { run(work); }) {}

    // Runs `work` every `period`.
    periodic_worker(std::chrono::milliseconds period, std::function<void()> work)
        : periodic_worker([period, work = std::move(work)] {
              work();
              return period;
          }) {}

    ~periodic_worker() { stop(); }
    periodic_worker(const periodic_worker&) = delete;
    periodic_worker& operator=(const periodic_worker&) = delete;

    // Ends the current wait early: the work runs again now (or as soon as its current run ends).
    void wake() noexcept {
        {
            std::lock_guard lock(mutex_);
            woken_ = true;
        }
        wake_.notify_one();
    }

    // Lets the running work finish, then ends the thread; the work does not run again.
    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    void run(const work_fn& work) {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            const std::chrono::milliseconds delay = work();
            lock.lock();
            wake_.wait_for(lock, delay, [this] { return stopping_ || woken_; });
            woken_ = false;
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;  // last: starts after the members it uses
};

}  // namespace rl::common
