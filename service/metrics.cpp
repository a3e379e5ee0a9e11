#include "service/metrics.hpp"

#include <fmt/format.h>

#include <iterator>

#include "common/version.hpp"

namespace rl::service {

namespace {

using out_buffer = fmt::memory_buffer;

void family(out_buffer& out, std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

template <typename Value>
void sample(out_buffer& out, std::string_view name, std::string_view type, std::string_view help,
            Value value) {
    family(out, name, type, help);
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
}

// In limit_outcome order. `outcome` is what operators graph: the five answers a client can get
// from a decision (shadow_limited: a 200 that enforcement would have made a 429), plus
// "unavailable" for the 503s and "bad_request" for the 400s, which are not decisions and are
// counted apart.
constexpr outcome_names names[limit_outcome_count] = {
    {"admitted", nullptr},
    {"limited", nullptr},
    {"shadow_limited", nullptr},
    {"unauthorized", "missing_key"},
    {"unauthorized", "invalid_key"},
    {"unauthorized", "expired_key"},
    {"forbidden", "user_disabled"},
    {"unavailable", "not_ready"},
    {"unavailable", "storage_error"},
    {"bad_request", "repeated_key"},
    {"unavailable", "not_owner"},
    {"unavailable", "fenced"},
};

constexpr std::string_view decision_outcomes[] = {"admitted", "limited", "shadow_limited",
                                                  "unauthorized", "forbidden"};

// A counter family with one sample per reason of the outcome `of`.
void reasons(out_buffer& out, std::string_view name, std::string_view help, std::string_view of,
             const std::uint64_t* counts) {
    family(out, name, "counter", help);
    for (std::size_t i = 0; i < limit_outcome_count; ++i)
        if (names[i].outcome == of)
            fmt::format_to(std::back_inserter(out), "{}{{reason=\"{}\"}} {}\n", name,
                           names[i].reason, counts[i]);
}

}  // namespace

outcome_names names_of(limit_outcome outcome) noexcept {
    return names[static_cast<std::size_t>(outcome)];
}

std::uint64_t metrics::decisions(limit_outcome outcome) const noexcept {
    std::uint64_t sum = 0;
    for (const shard& s : shards_)
        sum += s.decisions[static_cast<std::size_t>(outcome)].load(std::memory_order_relaxed);
    return sum;
}

std::uint64_t metrics::latency_count() const noexcept {
    std::uint64_t count = 0;
    for (const shard& s : shards_)
        for (const auto& bucket : s.latency_buckets)
            count += bucket.load(std::memory_order_relaxed);
    return count;
}

std::string metrics::render(const gauges& now) const {
    out_buffer out;
    auto line = [&](auto&&... args) { fmt::format_to(std::back_inserter(out), args...); };
    std::uint64_t counts[limit_outcome_count];
    for (std::size_t i = 0; i < limit_outcome_count; ++i)
        counts[i] = decisions(static_cast<limit_outcome>(i));

    family(out, "ratelimitd_decisions_total", "counter",
           "Decisions /limit answered, by outcome: admitted (200), limited (429), shadow_limited "
           "(200 in shadow mode, would have been 429), unauthorized (401), forbidden (403).");
    for (const std::string_view outcome : decision_outcomes) {
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < limit_outcome_count; ++i)
            if (names[i].outcome == outcome) sum += counts[i];
        line("ratelimitd_decisions_total{{outcome=\"{}\"}} {}\n", outcome, sum);
    }
    reasons(out, "ratelimitd_unauthorized_total",
            "401 answers of /limit by reason (also counted as outcome=\"unauthorized\").",
            "unauthorized", counts);
    reasons(out, "ratelimitd_unavailable_total",
            "503 answers of /limit, which are not decisions: keys still loading, a usage write "
            "storage refused, or (cluster mode) a node that does not own the user's group or is "
            "fenced.",
            "unavailable", counts);
    reasons(out, "ratelimitd_bad_requests_total",
            "400 answers of /limit by reason (not decisions): two or more X-API-KEY fields.",
            "bad_request", counts);

    family(out, "ratelimitd_request_duration_seconds", "histogram",
           "Time from reading a /limit request to handing its reply to the socket, the wait for "
           "the group-committed usage write included.");
    std::array<std::uint64_t, latency_bounds.size() + 1> buckets{};
    std::uint64_t sum_ns = 0;
    for (const shard& s : shards_) {
        for (std::size_t b = 0; b < buckets.size(); ++b)
            buckets[b] += s.latency_buckets[b].load(std::memory_order_relaxed);
        sum_ns += s.latency_sum_ns.load(std::memory_order_relaxed);
    }
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < buckets.size(); ++b) {
        cumulative += buckets[b];
        if (b < latency_bounds.size())
            line("ratelimitd_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                 std::chrono::duration<double>(latency_bounds[b]).count(), cumulative);
        else
            line("ratelimitd_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
    }
    line("ratelimitd_request_duration_seconds_sum {}\n", static_cast<double>(sum_ns) / 1e9);
    line("ratelimitd_request_duration_seconds_count {}\n", cumulative);

    sample(out, "ratelimitd_users", "gauge", "Users known to the server.", now.users);
    sample(out, "ratelimitd_keys_loaded", "gauge", "Live API keys in memory.", now.keys);
    sample(out, "ratelimitd_limiter_active_users", "gauge",
           "Users with admitted requests in the last second (limiter windows held).",
           now.active_users);
    sample(out, "ratelimitd_usage_write_batches_total", "counter",
           "Usage writes to RocksDB (one per group commit).", now.usage_batches);
    sample(out, "ratelimitd_usage_write_errors_total", "counter",
           "Usage writes storage refused (their admits were answered 503).",
           now.usage_write_errors);
    sample(out, "ratelimitd_ready", "gauge", "1 once storage is open and keys are loaded.",
           now.ready ? 1 : 0);
    sample(out, "ratelimitd_storage_errors_total", "counter",
           "Storage errors: refused writes, failed recoveries.", now.storage_errors);
    sample(out, "ratelimitd_storage_healthy", "gauge",
           "1 while storage accepts writes, 0 while it fails.", now.storage_healthy ? 1 : 0);
    sample(out, "ratelimitd_usage_held_buckets", "gauge",
           "Usage counts held in memory until storage recovers (--on-storage-error=open).",
           now.usage_held_buckets);
    sample(out, "ratelimitd_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch.", started_at_);
    family(out, "ratelimitd_build_info", "gauge", "Version and source revision; always 1.");
    line("ratelimitd_build_info{{version=\"{}\",revision=\"{}\"}} 1\n", common::version(),
         common::revision());
    return fmt::to_string(out);
}

}  // namespace rl::service
