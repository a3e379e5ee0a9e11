#pragma once
// A background thread that brings storage back after a write failure: it asks the usage
// recorder to recover, backing off from 100 ms to 5 s while storage keeps failing.

#include <chrono>

#include "common/periodic_worker.hpp"
#include "service/usage_recorder.hpp"

namespace rl::service {

class storage_recovery {
public:
    static constexpr std::chrono::milliseconds first_retry{100};
    static constexpr std::chrono::milliseconds last_retry{5000};

    explicit storage_recovery(usage_recorder& usage);

private:
    std::chrono::milliseconds backoff_ = first_retry;  // touched only by the worker
    common::periodic_worker worker_;                   // last: starts after the members it uses
};

}  // namespace rl::service
