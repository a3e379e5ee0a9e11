// What a per-second usage entry costs in CPU, RocksDB's background work included: the spread
// load's shape (every entry a new key and second, 60,000 a second over 100,000 keys, batches of
// 32 as the group commit writes them), then a flush and every compaction it leads to. The writer
// thread's CPU is what the event loop pays; the rest of the process's CPU is the flush and
// compaction threads. Expiry runs once a minute of the data's time, keeping two minutes. Prints
// numbers and the command; asserts nothing.
//
//   cmake --build build-rel --target usage_write_cost && build-rel/usage_write_cost [ENTRIES]

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/time_text.hpp"
#include "storage/database.hpp"
#include "storage/usage_store.hpp"

namespace {

using rl::storage::schema::family;

double cpu_seconds(int who) {
    rusage u{};
    ::getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Until RocksDB has nothing left to flush or compact.
void wait_idle(const rl::storage::database::session& s) {
    for (;;) {
        std::uint64_t pending = 0, compactions = 0, flushes = 0;
        s.db().GetIntProperty(s.family(family::usage_1s), "rocksdb.compaction-pending", &pending);
        s.db().GetIntProperty("rocksdb.num-running-compactions", &compactions);
        s.db().GetIntProperty("rocksdb.num-running-flushes", &flushes);
        if (pending == 0 && compactions == 0 && flushes == 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const long entries = argc > 1 ? std::atol(argv[1]) : 8'000'000;
    constexpr long per_second = 60'000, keys = 100'000, batch_size = 32;
    if (entries <= 0) {
        fmt::print(stderr, "usage: usage_write_cost [ENTRIES > 0]\n");
        return 2;
    }
    const std::string directory =
        (std::filesystem::temp_directory_path() / "rl-usage-write-cost").string();
    std::filesystem::remove_all(directory);
    {
        auto db = rl::storage::database::open(directory);
        rl::storage::usage_store usage(*db);
        std::vector<rl::storage::usage_bucket> batch;
        // Seconds that ended before now, as a live server writes them.
        const auto start = rl::common::wall_now() - entries / per_second - 10;
        const double process0 = cpu_seconds(RUSAGE_SELF), writer0 = cpu_seconds(RUSAGE_THREAD);
        for (long i = 0; i < entries; ++i) {
            batch.push_back(
                {start + i / per_second, static_cast<std::uint64_t>(i % keys + 1), {1, 0}});
            if (static_cast<long>(batch.size()) == batch_size || i + 1 == entries) {
                usage.add(batch);
                batch.clear();
            }
            // Retention as the server runs it, once a minute, here two minutes back.
            if (i % (60 * per_second) == 0 && i > 0)
                usage.expire(rl::storage::usage_resolution::second, start + i / per_second - 120);
            if ((i + 1) % 1'000'000 == 0) fmt::print(stderr, "{} entries written\n", i + 1);
        }
        const double process1 = cpu_seconds(RUSAGE_SELF), writer1 = cpu_seconds(RUSAGE_THREAD);
        fmt::print(stderr, "flushing and compacting\n");
        const auto s = db->use();
        rocksdb::FlushOptions wait;
        wait.wait = true;
        s.db().Flush(wait, s.family(family::usage_1s));
        wait_idle(s);
        const double process2 = cpu_seconds(RUSAGE_SELF), writer2 = cpu_seconds(RUSAGE_THREAD);
        const auto per_entry = [&](double seconds) {
            return seconds * 1e6 / static_cast<double>(entries);
        };
        fmt::print("usage_write_cost {}: {} entries, CPU per entry:\n", argc > 1 ? argv[1] : "",
                   entries);
        fmt::print("  writer (the event loop's share)  {:.3f} us\n", per_entry(writer1 - writer0));
        fmt::print("  background while writing         {:.3f} us\n",
                   per_entry((process1 - process0) - (writer1 - writer0)));
        fmt::print("  background after the last write  {:.3f} us\n",
                   per_entry((process2 - process1) - (writer2 - writer1)));
        fmt::print("  background in all                {:.3f} us\n",
                   per_entry((process2 - process0) - (writer2 - writer0)));
        std::vector<rocksdb::LiveFileMetaData> files;
        s.db().GetLiveFilesMetaData(&files);
        std::size_t count = 0, bytes = 0;
        for (const auto& f : files)
            if (f.column_family_name == "usage_1s") ++count, bytes += f.size;
        fmt::print("  usage_1s table files at the end  {}, {:.1f} MiB each on average\n", count,
                   count ? static_cast<double>(bytes) / count / (1 << 20) : 0.0);
    }
    std::filesystem::remove_all(directory);
    return 0;
}
