#include "service/storage_recovery.hpp"

#include <algorithm>

namespace rl::service {

storage_recovery::storage_recovery(usage_recorder& usage)
    : worker_([this, &usage] {
          // Healthy: a cheap look every first_retry. Failing: retry, backing off.
          if (usage.healthy() || usage.recover()) {
              backoff_ = first_retry;
              return first_retry;
          }
          const auto wait = backoff_;
          backoff_ = std::min(backoff_ * 2, last_retry);
          return wait;
      }) {}

}  // namespace rl::service
