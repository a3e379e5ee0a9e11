#include "service/storage_recovery.hpp"

#include <algorithm>

namespace rl::service {

storage_recovery::storage_recovery(usage_recorder& usage)
    : thread_([this, &usage] {
          std::unique_lock lock(mutex_);
          auto backoff = first_retry;
          while (!stopping_) {
              // Healthy: a cheap look every first_retry. Failing: retry, backing off.
              if (usage.healthy() || usage.recover()) {
                  backoff = first_retry;
                  wake_.wait_for(lock, first_retry);
              } else {
                  wake_.wait_for(lock, backoff);
                  backoff = std::min(backoff * 2, last_retry);
              }
          }
      }) {}

storage_recovery::~storage_recovery() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

}  // namespace rl::service
