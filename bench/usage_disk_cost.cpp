// What a million requests cost on disk in the per-second usage buckets and in the per-minute and
// per-hour roll-ups folded from them, for a few traffic shapes. Prints numbers and the command;
// asserts nothing.

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "storage/data_dir.hpp"

namespace {

using rl::storage::usage_resolution;

// Sustained traffic until a million requests are sent: each of `keys` keys is busy for one
// second in every `gap` seconds, with `requests_per_bucket` requests in that second.
struct shape {
    const char* name;
    std::uint64_t keys;
    std::uint64_t requests_per_bucket;  // requests in each busy (key, second)
    std::int64_t gap;                   // seconds from one busy second of a key to its next
};

struct cost {
    std::uint64_t buckets = 0;
    double bytes = 0;
};

// Table bytes after a full compaction.
double compacted_bytes(rl::storage::data_dir& store) {
    store.compact();
    return static_cast<double>(store.table_bytes());
}

void measure(const shape& s, const std::string& directory) {
    constexpr std::uint64_t requests = 1'000'000;
    std::filesystem::remove_all(directory);
    auto store = rl::storage::data_dir::open(directory);
    const std::uint64_t busy = requests / s.requests_per_bucket;  // busy (key, second) pairs
    const rl::common::unix_seconds start = 1'800'000'000;         // a whole hour
    std::vector<rl::storage::usage_bucket> batch;
    rl::common::unix_seconds last = start;
    for (std::uint64_t written = 0, round = 0; written < busy; ++round) {
        for (std::uint64_t key = 0; key < s.keys && written < busy; ++key, ++written) {
            // Keys spread over the gap so that every second has some traffic.
            last = start + static_cast<std::int64_t>(round) * s.gap +
                   static_cast<std::int64_t>(key % static_cast<std::uint64_t>(s.gap));
            // One merge per request, as the server writes them.
            for (std::uint64_t r = 0; r < s.requests_per_bucket; ++r)
                batch.push_back({last, key + 1, {1, 0}});
            if (batch.size() >= 4096) {
                store->usage().add(batch);
                batch.clear();
            }
        }
    }
    if (!batch.empty()) store->usage().add(batch);

    cost seconds{busy, compacted_bytes(*store)};
    const rl::common::unix_seconds through = last + 7200;
    while (store->usage().fold(usage_resolution::minute, through) > 0) {
    }
    while (store->usage().fold(usage_resolution::hour, through) > 0) {
    }
    cost minutes, hours;
    store->usage().scan({usage_resolution::minute, 0, through, nullptr},
                        [&](const rl::storage::usage_bucket&) { ++minutes.buckets; });
    store->usage().scan({usage_resolution::hour, 0, through, nullptr},
                        [&](const rl::storage::usage_bucket&) { ++hours.buckets; });
    // Measured by removing the finer data: what is left is the coarser one's cost.
    const double all = compacted_bytes(*store);
    store->usage().expire(usage_resolution::second, through);
    const double without_seconds = compacted_bytes(*store);
    store->usage().expire(usage_resolution::minute, through);
    hours.bytes = compacted_bytes(*store);
    minutes.bytes = without_seconds - hours.bytes;
    const double rollups = all - seconds.bytes;
    fmt::print("{}\n", s.name);
    for (const auto& [label, c] : {std::pair<const char*, cost>{"  per second", seconds},
                                   {"  per minute", minutes},
                                   {"  per hour", hours}})
        fmt::print("{:<14} {:>9} buckets {:>8.2f} MB per million requests {:>6.1f} bytes/bucket\n",
                   label, c.buckets, c.bytes / 1e6,
                   c.buckets ? c.bytes / static_cast<double>(c.buckets) : 0.0);
    fmt::print("  roll-ups together, measured beside the seconds: {:.2f} MB\n", rollups / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string directory = argc > 1 ? argv[1] : "/tmp/ratelimitd-usage-disk-cost";
    fmt::print("command: {} {}\n", argv[0], directory);
    const shape shapes[] = {
        {"1 request per key-second, 10,000 keys busy every second (worst case for seconds)", 10'000,
         1, 1},
        {"10 requests per key-second, 10,000 keys (at the default limit)", 10'000, 10, 1},
        {"100 requests per key-second, 1,000 keys", 1'000, 100, 1},
        {"1 request per key-minute, 10,000 keys (worst case for minutes)", 10'000, 1, 60},
    };
    for (const auto& s : shapes) measure(s, directory);
    std::filesystem::remove_all(directory);
}
