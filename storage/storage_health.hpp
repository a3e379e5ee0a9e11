#pragma once
// Whether storage accepts writes: set by the database whenever a write (usage or catalog) or a
// resume fails, cleared when a resume succeeds. Nobody above storage infers it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace rl::storage {

class storage_health {
public:
    // Hears of every failure as it happens, on the failing thread, after storage released its
    // locks. Set once, before the store is shared between threads.
    using failure_listener = std::function<void(const std::string& error)>;

    bool healthy() const noexcept { return healthy_.load(std::memory_order_acquire); }
    // Why the last write or resume failed; kept after recovery, for the record.
    std::string last_error() const;
    // Failed writes and resumes since the directory was opened.
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

    void listen(failure_listener listener) { listener_ = std::move(listener); }

    // For the database.
    void failed(const std::string& error) noexcept;
    void recovered() noexcept { healthy_.store(true, std::memory_order_release); }

private:
    std::atomic<bool> healthy_{true};
    std::atomic<std::uint64_t> failures_{0};
    mutable std::mutex mutex_;  // last_error_
    std::string last_error_;
    failure_listener listener_;
};

}  // namespace rl::storage
