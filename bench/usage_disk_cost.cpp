// What a million requests cost on disk in the per-second usage buckets, for a few traffic
// shapes. Prints numbers and the command; asserts nothing.

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "storage/store.hpp"

namespace {

struct shape {
    const char* name;
    std::uint64_t keys;                     // distinct keys
    std::uint64_t requests_per_key_second;  // requests in each (key, second) bucket
};

void measure(const shape& s, const std::string& directory) {
    constexpr std::uint64_t requests = 1'000'000;
    std::filesystem::remove_all(directory);
    auto store = rl::storage::store::open(directory);
    const std::uint64_t buckets = requests / s.requests_per_key_second;
    const std::uint64_t seconds = (buckets + s.keys - 1) / s.keys;
    std::vector<rl::storage::usage_bucket> batch;
    std::uint64_t written = 0;
    const rl::common::unix_seconds start = 1'800'000'000;
    for (std::uint64_t second = 0; second < seconds && written < buckets; ++second) {
        for (std::uint64_t key = 0; key < s.keys && written < buckets; ++key, ++written) {
            // One merge per request, as the server writes them.
            for (std::uint64_t r = 0; r < s.requests_per_key_second; ++r)
                batch.push_back({start + static_cast<std::int64_t>(second), key + 1, {1, 0}});
            if (batch.size() >= 4096) {
                store->add_usage(batch);
                batch.clear();
            }
        }
    }
    if (!batch.empty()) store->add_usage(batch);
    store->compact();
    const double bytes = static_cast<double>(store->table_bytes());
    fmt::print("{:<52} {:>8} buckets {:>10.1f} MB per million requests {:>6.1f} bytes/bucket\n",
               s.name, buckets, bytes / 1e6, bytes / static_cast<double>(buckets));
}

}  // namespace

int main(int argc, char** argv) {
    const std::string directory = argc > 1 ? argv[1] : "/tmp/ratelimitd-usage-disk-cost";
    fmt::print("command: {} {}\n", argv[0], directory);
    const shape shapes[] = {
        {"1 request per key-second (worst case)", 10'000, 1},
        {"10 requests per key-second (at the default limit)", 10'000, 10},
        {"100 requests per key-second", 1'000, 100},
    };
    for (const auto& s : shapes) measure(s, directory);
    std::filesystem::remove_all(directory);
}
