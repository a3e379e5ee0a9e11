// Per-second usage: added (from many threads), scanned in order, expired, flushed.

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>
#include "tests/storage/data_dir_fixture.hpp"

namespace {

using namespace rl::storage;
using namespace rl::testing;

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

    // New usage for an expired second counts from zero; survivors keep their counts.
    REQUIRE(db->usage().add({bucket(101, 1, 7), bucket(102, 1, 1)}));
    reopen();
    CHECK(usage_between(*db, 0, 1000) ==
          std::vector<bucket_row>{{101, 1, 7, 0}, {102, 1, 2, 0}, {102, 2, 1, 0}, {103, 1, 1, 0}});
}

TEST_CASE_METHOD(data_dir_fixture, "flush makes the WAL durable without changing anything",
                 "[store]") {
    REQUIRE(db->usage().add({bucket(100, 1, 1)}));
    CHECK_NOTHROW(db->flush());
    CHECK(usage_between(*db, 100, 101) == std::vector<bucket_row>{{100, 1, 1, 0}});
}
