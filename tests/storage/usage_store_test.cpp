// Per-second usage: added (from many threads), scanned in order, expired, flushed.

#include <rocksdb/db.h>
#include <sys/resource.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "tests/storage/data_dir_fixture.hpp"

namespace {

using namespace rl::storage;
using namespace rl::testing;

// A database of its own with the usage store on it, and the per-second family's table files.
struct per_second_fixture {
    temp_dir tmp;
    std::unique_ptr<database> db = database::open(tmp / "data");
    usage_store usage{*db};
    database::session s = db->use();
    rocksdb::ColumnFamilyHandle* family = s.family(schema::family::usage_1s);

    std::vector<rocksdb::LiveFileMetaData> files() const {
        std::vector<rocksdb::LiveFileMetaData> all, mine;
        s.db().GetLiveFilesMetaData(&all);
        for (auto& f : all)
            if (f.column_family_name == schema::name_of(schema::family::usage_1s))
                mine.push_back(std::move(f));
        return mine;
    }
};

}  // namespace

TEST_CASE_METHOD(data_dir_fixture, "usage added in several writes is summed per bucket",
                 "[store]") {
    REQUIRE(db->usage().add({bucket(100, 1, 1), bucket(100, 1, 1, 1), bucket(100, 2, 4)}));
    REQUIRE(db->usage().add({bucket(100, 1, 2, 5)}));
    REQUIRE(db->usage().add({}));
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 1, 4, 6}, {100, 2, 4, 0}});
}

TEST_CASE_METHOD(data_dir_fixture, "usage added from many threads at once is all counted",
                 "[store]") {
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i)
                failures +=
                    !db->usage().add({bucket(100 + i % 3, static_cast<std::uint64_t>(t % 2), 1)});
        });
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);
    std::uint64_t allowed = 0;
    for (const auto& row : usage_between(*db, 0, 1000)) allowed += std::get<2>(row);
    CHECK(allowed == 4000);
    CHECK(usage_between(*db, 0, 1000).size() == 6);
}

TEST_CASE("two stores used from one thread keep their usage apart", "[store]") {
    temp_dir tmp;
    const auto first = data_dir::open(tmp / "first");
    const auto second = data_dir::open(tmp / "second");
    REQUIRE(first->usage().add({bucket(100, 1, 1), bucket(101, 1, 1)}));
    REQUIRE(second->usage().add({bucket(200, 2, 5)}));
    REQUIRE(first->usage().add({bucket(100, 1, 1)}));
    CHECK(usage_between(*first, 0, 1000) ==
          std::vector<bucket_row>{{100, 1, 2, 0}, {101, 1, 1, 0}});
    CHECK(usage_between(*second, 0, 1000) == std::vector<bucket_row>{{200, 2, 5, 0}});
}

TEST_CASE_METHOD(data_dir_fixture, "usage is read over [from, until) in time then key order",
                 "[store]") {
    REQUIRE(db->usage().add({bucket(102, 1, 1), bucket(101, 9, 1), bucket(101, 2, 1),
                             bucket(100, 5, 1), bucket(300, 1, 1)}));

    CHECK(usage_between(*db, 101, 103) ==
          std::vector<bucket_row>{{101, 2, 1, 0}, {101, 9, 1, 0}, {102, 1, 1, 0}});
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 5, 1, 0}});
    CHECK(usage_between(*db, 0, 1000).size() == 5);
    CHECK(usage_between(*db, 103, 300).empty());
    CHECK(usage_between(*db, 101, 101).empty());
    CHECK(usage_between(*db, 300, 100).empty());
}

TEST_CASE_METHOD(data_dir_fixture, "expiring usage drops only buckets before the cutoff",
                 "[store]") {
    REQUIRE(db->usage().add({bucket(100, 1, 1), bucket(101, 1, 1), bucket(102, 1, 1),
                             bucket(102, 2, 1), bucket(103, 1, 1)}));
    db->usage().expire(usage_resolution::second, 102);
    CHECK(usage_between(*db, 0, 1000) ==
          std::vector<bucket_row>{{102, 1, 1, 0}, {102, 2, 1, 0}, {103, 1, 1, 0}});

    CHECK(db->usage().coverage(usage_resolution::second).kept_from == 102);

    // Survivors keep their counts; usage written later for an expired second is not read back.
    REQUIRE(db->usage().add({bucket(101, 1, 7), bucket(102, 1, 1)}));
    reopen();
    CHECK(usage_between(*db, 0, 1000) ==
          std::vector<bucket_row>{{102, 1, 2, 0}, {102, 2, 1, 0}, {103, 1, 1, 0}});
}

TEST_CASE_METHOD(per_second_fixture, "per-second files move down unmerged and expire whole, unread",
                 "[store]") {
    const auto files_at = [&](int level) {
        const auto all = files();
        return std::count_if(all.begin(), all.end(),
                             [&](const auto& f) { return f.level == level; });
    };
    const auto count = [&] { return files_at(0) + files_at(1); };
    // Eight flushes of disjoint seconds: level-0 compactions then only move files down, oldest
    // first, until three are left.
    for (unix_seconds t = 100; t <= 800; t += 100) {
        REQUIRE(usage.add({bucket(t, 1, 1), bucket(t + 50, 2, 1)}));
        REQUIRE(s.db().Flush(rocksdb::FlushOptions(), family).ok());
    }
    const auto busy = [&] {
        std::uint64_t pending = 0, running = 0;
        s.db().GetIntProperty(family, "rocksdb.compaction-pending", &pending);
        s.db().GetIntProperty("rocksdb.num-running-compactions", &running);
        return pending > 0 || running > 0 || files_at(0) > 3;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (busy() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE_FALSE(busy());
    CHECK(files_at(1) == 5);
    CHECK(count() == 8);  // moved, never merged

    // Files wholly before the cutoff are deleted; the one holding 300 and 350 stays, and its
    // 300 is not read any more.
    usage.expire(usage_resolution::second, 320);
    CHECK(count() == 6);
    std::vector<unix_seconds> seen;
    usage.scan({usage_resolution::second, 0, 1000, nullptr},
               [&](const usage_bucket& b) { seen.push_back(b.start); });
    CHECK(seen == std::vector<unix_seconds>{350, 400, 450, 500, 550, 600, 650, 700, 750, 800, 850});
}

TEST_CASE_METHOD(per_second_fixture,
                 "a new second after a memtable's worth of entries starts the next memtable",
                 "[store]") {
    const auto write = [&](unix_seconds t, std::uint64_t entries) {
        std::vector<usage_bucket> batch;
        for (std::uint64_t k = 1; k <= entries; ++k) {
            batch.push_back(bucket(t, k, 1));
            if (batch.size() == 4096 || k == entries) {
                REQUIRE(usage.add(batch));
                batch.clear();
            }
        }
    };
    const auto immutable = [&] {
        std::uint64_t n = 0;
        s.db().GetIntProperty(family, "rocksdb.num-immutable-mem-table", &n);
        return n;
    };
    write(100, usage_store::entries_per_memtable - 1);
    write(101, 1);  // the count is reached inside second 101: no switch in it
    write(101, 10);
    CHECK(immutable() == 0);
    write(102, 10);  // the first write of a new second: the switch
    // The switched memtable is flushed alone (before the next one is), into its own file.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (immutable() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(immutable() == 0);
    REQUIRE(s.db().Flush(rocksdb::FlushOptions(), family).ok());

    std::vector<std::pair<unix_seconds, unix_seconds>> seconds;  // each file's first and last
    for (const auto& f : files())
        seconds.emplace_back(codec::decode_usage_key(f.smallestkey)->start,
                             codec::decode_usage_key(f.largestkey)->start);
    std::sort(seconds.begin(), seconds.end());
    CHECK(seconds == std::vector<std::pair<unix_seconds, unix_seconds>>{{100, 101}, {102, 102}});
}

TEST_CASE("table files are kept open within half of a low open-file limit", "[store]") {
    temp_dir tmp;
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 1024);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    const int kept = database::open(tmp / "low")->use().db().GetDBOptions().max_open_files;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    CHECK(kept == static_cast<int>(low.rlim_cur / 2));
    if (saved.rlim_cur == RLIM_INFINITY || saved.rlim_cur >= 65536)
        CHECK(database::open(tmp / "high")->use().db().GetDBOptions().max_open_files == -1);
}

TEST_CASE_METHOD(data_dir_fixture, "flush makes the WAL durable without changing anything",
                 "[store]") {
    REQUIRE(db->usage().add({bucket(100, 1, 1)}));
    CHECK_NOTHROW(db->flush());
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 1, 1, 0}});
}
