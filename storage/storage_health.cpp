#include "storage/storage_health.hpp"

namespace rl::storage {

std::string storage_health::last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
}

void storage_health::failed(const std::string& error) noexcept {
    failures_.fetch_add(1, std::memory_order_relaxed);
    healthy_.store(false, std::memory_order_release);
    try {
        {
            std::lock_guard lock(mutex_);
            last_error_ = error;
        }
        if (listener_) listener_(error);
    } catch (...) {  // allocation failure: the flag is what matters
    }
}

}  // namespace rl::storage
