// How long a 30-day usage report for one user takes once the roll-ups hold it: plants 30 days of
// usage (one user with several keys, plus other users' keys busy at the same times), folds it as
// the server would, expires the seconds older than 48 h, then times the admin API's
// /v1/usage in-process (what ratelimitd and offline rlctl run). Leaves the data directory for
// timing rlctl end to end (see the README). Prints numbers and the command; asserts nothing.

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "admin/admin_api.hpp"
#include "admin/catalog.hpp"
#include "storage/data_dir.hpp"

namespace {

using rl::storage::usage_resolution;
using clock_type = std::chrono::steady_clock;

double millis_since(clock_type::time_point start) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const std::string directory = argc > 1 ? argv[1] : "/tmp/ratelimitd-usage-report-speed";
    const int user_keys = argc > 2 ? std::atoi(argv[2]) : 5;
    const int other_keys = argc > 3 ? std::atoi(argv[3]) : 1000;
    fmt::print("command: {} {} {} {}\n", argv[0], directory, user_keys, other_keys);
    std::filesystem::remove_all(directory);
    auto store = rl::storage::data_dir::open(directory);
    rl::admin::catalog catalog(*store, 10);
    catalog.create_user("u", std::nullopt);
    catalog.create_user("others", std::nullopt);
    std::vector<std::uint64_t> keys, others;
    for (int i = 0; i < user_keys; ++i)
        keys.push_back(catalog.create_key("u", "", 0).value->record.key_id);
    for (int i = 0; i < other_keys; ++i)
        others.push_back(catalog.create_key("others", "", 0).value->record.key_id);

    // Every key busy in one second of every minute for 30 days: as many minute buckets as there
    // can be, and the seconds of the last 48 h besides.
    const auto now = rl::common::wall_now();
    const auto start = rl::common::floor_to(now - 30 * 86400, 3600);
    auto planted = clock_type::now();
    std::vector<rl::storage::usage_bucket> batch;
    std::uint64_t buckets = 0;
    for (auto minute = start; minute < now; minute += 60) {
        for (auto k : keys) batch.push_back({minute + 7, k, {10, 1}});
        for (auto k : others) batch.push_back({minute + 11, k, {3, 0}});
        if (batch.size() >= 8192) {
            store->usage().add(batch);
            buckets += batch.size();
            batch.clear();
        }
    }
    store->usage().add(batch);
    buckets += batch.size();
    fmt::print("planted {} per-second buckets in {:.1f} s\n", buckets, millis_since(planted) / 1e3);

    auto folded = clock_type::now();
    std::size_t periods = 0;
    for (auto r : {usage_resolution::minute, usage_resolution::hour})
        while (const auto n = store->usage().fold(r, now - 10)) periods += n;
    store->usage().expire(
        usage_resolution::second,
        std::min(now - 48 * 3600, store->usage().coverage(usage_resolution::minute).folded_until));
    store->compact();
    fmt::print(
        "folded {} minutes and hours, expired seconds older than 48 h, compacted: {:.1f} s\n",
        periods, millis_since(folded) / 1e3);

    rl::admin::admin_api api(catalog);
    for (const char* step : {"", "1h", "1m"}) {
        constexpr int runs = 20;
        double best = 1e9, sum = 0;
        std::uint64_t allowed = 0;
        for (int i = 0; i < runs; ++i) {
            const auto t0 = clock_type::now();
            const auto r = api.handle(rl::admin::api_request{
                "GET", "/v1/usage", {{"user", "u"}, {"since", "30d"}, {"step", step}}, ""});
            const double ms = millis_since(t0);
            best = std::min(best, ms);
            sum += ms;
            allowed = r.body["total"].value("allowed", std::uint64_t{0});
        }
        fmt::print(
            "usage --user u --since 30d --step {:<3}: best {:.1f} ms, mean {:.1f} ms over {} "
            "runs (allowed {})\n",
            *step ? step : "1d", best, sum / runs, runs, allowed);
    }
    fmt::print("data left in {} for timing rlctl\n", directory);
}
