#include "service/metrics.hpp"

#include <fmt/format.h>

#include <iterator>

namespace rl::service {

namespace {

// Prometheus groups the outcomes the way operators ask about them; `reason` keeps the detail.
struct outcome_labels {
    const char* outcome;
    const char* reason;
};

constexpr outcome_labels labels[limit_outcome_count] = {
    {"admitted", "ok"},
    {"limited", "over_limit"},
    {"unauthorized", "missing_key"},
    {"unauthorized", "invalid_key"},
    {"unauthorized", "expired_key"},
    {"forbidden", "user_disabled"},
    {"unavailable", "not_ready"},
    {"unavailable", "storage_error"},
};

}  // namespace

std::string metrics::render(const gauges& now) const {
    fmt::memory_buffer out;
    auto line = [&](auto&&... args) { fmt::format_to(std::back_inserter(out), args...); };
    line("# HELP ratelimitd_decisions_total Answers of /limit by outcome.\n");
    line("# TYPE ratelimitd_decisions_total counter\n");
    for (std::size_t i = 0; i < limit_outcome_count; ++i)
        line("ratelimitd_decisions_total{{outcome=\"{}\",reason=\"{}\"}} {}\n", labels[i].outcome,
             labels[i].reason, decisions_[i].load(std::memory_order_relaxed));
    line("# HELP ratelimitd_users Users known to the server.\n# TYPE ratelimitd_users gauge\n");
    line("ratelimitd_users {}\n", now.users);
    line(
        "# HELP ratelimitd_keys_loaded Live API keys in memory.\n# TYPE ratelimitd_keys_loaded "
        "gauge\n");
    line("ratelimitd_keys_loaded {}\n", now.keys);
    line("# HELP ratelimitd_limiter_active_users Users with requests in the last second.\n");
    line("# TYPE ratelimitd_limiter_active_users gauge\nratelimitd_limiter_active_users {}\n",
         now.active_users);
    line("# HELP ratelimitd_usage_write_batches_total Usage writes (one per group commit).\n");
    line("# TYPE ratelimitd_usage_write_batches_total counter\n");
    line("ratelimitd_usage_write_batches_total {}\n", now.usage_batches);
    line("# HELP ratelimitd_usage_write_errors_total Usage writes storage refused.\n");
    line("# TYPE ratelimitd_usage_write_errors_total counter\n");
    line("ratelimitd_usage_write_errors_total {}\n", now.usage_write_errors);
    line("# HELP ratelimitd_ready Whether storage is open and keys are loaded.\n");
    line("# TYPE ratelimitd_ready gauge\nratelimitd_ready {}\n", now.ready ? 1 : 0);
    line(
        "# HELP ratelimitd_storage_errors_total Storage errors: refused writes, failed "
        "recoveries.\n");
    line("# TYPE ratelimitd_storage_errors_total counter\n");
    line("ratelimitd_storage_errors_total {}\n", now.storage_errors);
    line("# HELP ratelimitd_storage_healthy Whether storage accepts writes (0 while it fails).\n");
    line("# TYPE ratelimitd_storage_healthy gauge\nratelimitd_storage_healthy {}\n",
         now.storage_healthy ? 1 : 0);
    line(
        "# HELP ratelimitd_usage_held_buckets Usage counts held in memory until storage "
        "recovers.\n");
    line("# TYPE ratelimitd_usage_held_buckets gauge\nratelimitd_usage_held_buckets {}\n",
         now.usage_held_buckets);
    line("# HELP ratelimitd_build_info Build information.\n# TYPE ratelimitd_build_info gauge\n");
    line("ratelimitd_build_info{{version=\"{}\"}} 1\n", RL_VERSION);
    return fmt::to_string(out);
}

}  // namespace rl::service
