#pragma once
// A background thread that brings storage back after a write failure: it asks the usage
// recorder to recover, backing off from 100 ms to 5 s while storage keeps failing.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "service/usage_recorder.hpp"

namespace rl::service {

class storage_recovery {
public:
    static constexpr std::chrono::milliseconds first_retry{100};
    static constexpr std::chrono::milliseconds last_retry{5000};

    explicit storage_recovery(usage_recorder& usage);
    ~storage_recovery();  // stops and joins the thread
    storage_recovery(const storage_recovery&) = delete;
    storage_recovery& operator=(const storage_recovery&) = delete;

private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts after the members it uses
};

}  // namespace rl::service
