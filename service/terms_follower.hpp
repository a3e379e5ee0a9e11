#pragma once
// Moves users' windows to their new terms when a plan or a user's terms change, before the
// admin call returns: a window the new policy shares with the old keeps what it holds (no reset
// that hands out quota), and a window new to the user starts from what their keys' usage
// already holds in it (a new day quota starts from today's admits, a new 1m window from the
// last minute's).

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "limiter/policy_limiter.hpp"
#include "service/key_index.hpp"
#include "service/limit_handler.hpp"

namespace rl::storage {
class data_dir;
}

namespace rl::service {

class terms_follower {
public:
    using log_line = std::function<void(const std::string&)>;
    // How long a change waits at most for the usage writes of admits already decided.
    static constexpr std::chrono::milliseconds in_flight_wait{2000};

    terms_follower(const key_index& keys, limiter::policy_limiter& limiter,
                   const limit_handler& handler, const storage::data_dir& store, log_line log);

    // For key_index::on_terms_changed: the index already hands out the new terms.
    void changed(const std::vector<terms_change>& changes);

private:
    const key_index& keys_;
    limiter::policy_limiter& limiter_;
    const limit_handler& handler_;
    const storage::data_dir& store_;
    const log_line log_;
};

}  // namespace rl::service
