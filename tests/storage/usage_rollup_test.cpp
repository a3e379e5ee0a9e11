// Per-minute and per-hour roll-ups: folding, restart safety, expiry per resolution, key filters.

#include <catch2/catch.hpp>

#include <map>
#include <tuple>
#include <vector>

#include "storage/codec.hpp"
#include "storage/data_dir.hpp"
#include "tests/storage/data_dir_fixture.hpp"
#include "tests/storage/raw_access.hpp"

namespace {

using namespace rl::storage;

constexpr unix_seconds day = 1795737600;  // 2026-11-27T00:00:00Z
constexpr auto second = usage_resolution::second;
constexpr auto minute = usage_resolution::minute;
constexpr auto hour = usage_resolution::hour;

// (start, key_id) -> (admitted, limited) of everything a resolution holds in [from, until).
using sums =
    std::map<std::pair<unix_seconds, std::uint64_t>, std::pair<std::uint64_t, std::uint64_t>>;

struct rollup_fixture : rl::testing::data_dir_fixture {
    void add(std::vector<usage_bucket> buckets) { REQUIRE(db->usage().add(buckets)); }

    sums read(usage_resolution r, unix_seconds from = 0, unix_seconds until = day + 86400 * 30,
              const std::vector<std::uint64_t>* keys = nullptr) const {
        sums out;
        db->usage().scan(usage_range{r, from, until, keys}, [&](const usage_bucket& b) {
            auto& s = out[{b.start, b.key_id}];
            s.first += b.count.admitted;
            s.second += b.count.limited;
        });
        return out;
    }

    // (start, key_id) -> (admitted, limited, shadow_limited) of one resolution.
    using all_counts = std::map<std::pair<unix_seconds, std::uint64_t>,
                                std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>>;
    all_counts read_all(usage_resolution r) const {
        all_counts out;
        db->usage().scan(usage_range{r, 0, day + 86400 * 30}, [&](const usage_bucket& b) {
            out[{b.start, b.key_id}] = {b.count.admitted, b.count.limited, b.count.shadow_limited};
        });
        return out;
    }

    // Writes per-second usage in the 16-byte layout of releases before shadow mode, the way
    // such a release merged it.
    void add_old(unix_seconds start, std::uint64_t key_id, std::uint64_t admitted,
                 std::uint64_t limited) {
        std::string value;
        for (const std::uint64_t v : {admitted, limited})
            for (int shift = 0; shift < 64; shift += 8)
                value.push_back(static_cast<char>(v >> shift));
        db.reset();
        rl::testing::raw_access(
            directory, [&](rocksdb::DB& raw, const rl::testing::family_of& family) {
                REQUIRE(raw.Merge(rocksdb::WriteOptions(), family(schema::family::usage_1s),
                                  codec::encode_usage_key(start, key_id), value)
                            .ok());
            });
        reopen();
    }
};

}  // namespace

TEST_CASE_METHOD(rollup_fixture, "closed minutes are summed per key into the minute roll-up",
                 "[rollup]") {
    add({{day + 1, 1, {2, 1}},
         {day + 59, 1, {3, 0}},
         {day + 30, 2, {1, 0}},
         {day + 60, 1, {5, 5}},
         {day + 130, 1, {7, 0}}});
    // Through day+125: minutes day and day+60 are closed, day+120 is not.
    CHECK(db->usage().fold(minute, day + 125) == 2);
    CHECK(read(minute) == sums{{{day, 1}, {5, 1}}, {{day, 2}, {1, 0}}, {{day + 60, 1}, {5, 5}}});
    CHECK(db->usage().coverage(minute).folded_until == day + 120);
    CHECK(db->usage().coverage(second).folded_until > day + 86400 * 365);
    // The per-second buckets stay; they are expired separately.
    CHECK(read(second).size() == 5);
}

TEST_CASE_METHOD(rollup_fixture,
                 "folding again, or after a crash between steps, never double counts", "[rollup]") {
    add({{day + 1, 1, {1, 0}}, {day + 61, 1, {1, 0}}, {day + 3601, 2, {4, 2}}});
    REQUIRE(db->usage().fold(minute, day + 7200, 1) == 1);  // one period, then "crash"
    reopen();
    CHECK(db->usage().coverage(minute).folded_until == day + 60);
    CHECK(db->usage().fold(minute, day + 7200) == 2);
    CHECK(db->usage().fold(minute, day + 7200) == 0);
    reopen();
    CHECK(db->usage().fold(minute, day + 7200) == 0);
    CHECK(read(minute) ==
          sums{{{day, 1}, {1, 0}}, {{day + 60, 1}, {1, 0}}, {{day + 3600, 2}, {4, 2}}});

    // Hours come from folded minutes only, and are as idempotent.
    CHECK(db->usage().fold(hour, day + 86400) == 2);
    reopen();
    CHECK(db->usage().fold(hour, day + 86400) == 0);
    CHECK(read(hour) == sums{{{day, 1}, {2, 0}}, {{day + 3600, 2}, {4, 2}}});
    CHECK(db->usage().coverage(hour).folded_until == day + 7200);
}

TEST_CASE_METHOD(rollup_fixture, "an hour is folded only once all of its minutes are", "[rollup]") {
    add({{day + 10, 1, {1, 0}}, {day + 3599, 1, {1, 0}}});
    REQUIRE(db->usage().fold(minute, day + 1800) == 1);
    CHECK(db->usage().fold(hour, day + 86400) == 0);
    CHECK(read(hour).empty());
    REQUIRE(db->usage().fold(minute, day + 3600) == 1);
    CHECK(db->usage().fold(hour, day + 86400) == 1);
    CHECK(read(hour) == sums{{{day, 1}, {2, 0}}});
}

TEST_CASE_METHOD(rollup_fixture, "the first fold starts at the oldest bucket, gaps cost nothing",
                 "[rollup]") {
    CHECK(db->usage().fold(minute, day) == 0);  // nothing yet: only the watermark moves
    CHECK(db->usage().coverage(minute).folded_until == day);
    add({{day + 86400 * 3 + 5, 7, {1, 0}}, {day + 86400 * 9 + 5, 7, {2, 0}}});
    CHECK(db->usage().fold(minute, day + 86400 * 10) == 2);
    CHECK(read(minute) == sums{{{day + 86400 * 3, 7}, {1, 0}}, {{day + 86400 * 9, 7}, {2, 0}}});
}

TEST_CASE_METHOD(rollup_fixture, "expiry works per resolution and records what is gone",
                 "[rollup]") {
    add({{day + 1, 1, {1, 0}}, {day + 61, 1, {1, 0}}, {day + 121, 1, {1, 0}}});
    REQUIRE(db->usage().fold(minute, day + 180) == 3);
    db->usage().expire(second, day + 120);
    db->usage().expire(minute, day + 60);
    CHECK(read(second).size() == 1);
    CHECK(read(minute).size() == 2);
    CHECK(db->usage().coverage(second).kept_from == day + 120);
    CHECK(db->usage().coverage(minute).kept_from == day + 60);
    CHECK(db->usage().coverage(hour).kept_from == 0);
    db->usage().expire(second, day + 60);  // never moves back
    reopen();
    CHECK(db->usage().coverage(second).kept_from == day + 120);
}

TEST_CASE_METHOD(rollup_fixture, "a key filter returns exactly the wanted keys' buckets",
                 "[rollup]") {
    std::vector<usage_bucket> buckets;
    for (std::uint64_t k = 1; k <= 50; ++k)
        for (unix_seconds t = 0; t < 20; ++t) buckets.push_back({day + t, k, {k, 0}});
    add(buckets);
    const std::vector<std::uint64_t> wanted = {3, 17, 50, 99};
    const sums got = read(second, day + 5, day + 15, &wanted);
    sums expected;
    for (const auto& [start_key, counts] : read(second, day + 5, day + 15))
        if (start_key.second == 3 || start_key.second == 17 || start_key.second == 50)
            expected[start_key] = counts;
    CHECK(got.size() == 30);
    CHECK(got == expected);
    const std::vector<std::uint64_t> none;
    CHECK(read(second, 0, day + 100, &none).empty());
}

TEST_CASE_METHOD(rollup_fixture, "usage arriving for a folded minute is folded again, once",
                 "[rollup]") {
    add({{day + 10, 1, {1, 0}}, {day + 70, 2, {1, 0}}});
    REQUIRE(db->usage().fold(minute, day + 3600) == 2);
    REQUIRE(db->usage().fold(hour, day + 3600) == 1);
    // The clock stepped back: more for minute `day`, for a new key too.
    add({{day + 20, 1, {5, 1}}, {day + 30, 3, {2, 0}}});
    db->usage().fold(minute, day + 3600);
    CHECK(read(minute) == sums{{{day, 1}, {6, 1}}, {{day, 3}, {2, 0}}, {{day + 60, 2}, {1, 0}}});
    CHECK(read(hour) == sums{{{day, 1}, {6, 1}}, {{day, 2}, {1, 0}}, {{day, 3}, {2, 0}}});
    db->usage().fold(minute, day + 3600);
    db->usage().fold(hour, day + 3600);
    CHECK(read(hour) == sums{{{day, 1}, {6, 1}}, {{day, 2}, {1, 0}}, {{day, 3}, {2, 0}}});
    // After a restart the store still knows which minutes are folded.
    reopen();
    add({{day + 50, 1, {1, 0}}});
    db->usage().fold(minute, day + 3600);
    CHECK(read(minute).at({day, 1}) == std::make_pair<std::uint64_t, std::uint64_t>(7, 1));
}

TEST_CASE_METHOD(rollup_fixture,
                 "roll-ups carry shadow-limited counts, from old and new values alike",
                 "[rollup]") {
    add_old(day + 1, 1, 2, 1);     // before shadow mode: 16 bytes
    add({{day + 1, 1, {1, 0, 4}},  // the same second, merged onto the old value
         {day + 59, 1, {0, 0, 3}},
         {day + 61, 2, {1, 1, 1}}});
    add_old(day + 3601, 2, 5, 0);  // an old value alone in its hour

    CHECK(read_all(second) == all_counts{{{day + 1, 1}, {3, 1, 4}},
                                         {{day + 59, 1}, {0, 0, 3}},
                                         {{day + 61, 2}, {1, 1, 1}},
                                         {{day + 3601, 2}, {5, 0, 0}}});
    REQUIRE(db->usage().fold(minute, day + 7200) == 3);
    CHECK(read_all(minute) == all_counts{{{day, 1}, {3, 1, 7}},
                                         {{day + 60, 2}, {1, 1, 1}},
                                         {{day + 3600, 2}, {5, 0, 0}}});
    REQUIRE(db->usage().fold(hour, day + 7200) == 2);
    CHECK(read_all(hour) ==
          all_counts{{{day, 1}, {3, 1, 7}}, {{day, 2}, {1, 1, 1}}, {{day + 3600, 2}, {5, 0, 0}}});
    // Roll-ups and merges are written in the current 24-byte layout, old inputs or not.
    db.reset();
    rl::testing::raw_access(directory, [](rocksdb::DB& raw, const rl::testing::family_of& family) {
        std::string value;
        REQUIRE(raw.Get(rocksdb::ReadOptions(), family(schema::family::usage_1h),
                        codec::encode_usage_key(day + 3600, 2), &value)
                    .ok());
        CHECK(value.size() == codec::usage_value_size);
        REQUIRE(raw.Get(rocksdb::ReadOptions(), family(schema::family::usage_1s),
                        codec::encode_usage_key(day + 1, 1), &value)
                    .ok());
        CHECK(value.size() == codec::usage_value_size);
    });
    reopen();
    CHECK(read_all(hour).at({day, 1}) == std::make_tuple(3u, 1u, 7u));
}

// Minutes this store saw whole (it was open from their start: here, minutes tomorrow) are folded
// from the sums add() kept; the rest by a scan of their seconds. Both give the same roll-ups.
namespace {

unix_seconds tomorrow() {
    return rl::common::floor_to(rl::common::wall_now(), 3600) + 86400;
}

}  // namespace

TEST_CASE_METHOD(rollup_fixture, "a minute the store saw whole is folded from what it summed",
                 "[rollup]") {
    const unix_seconds m = tomorrow();
    // The first fold scans from the oldest bucket there is; from its end on, the sums serve.
    CHECK(db->usage().fold(minute, m) == 0);
    add({{m + 1, 1, {2, 1}}, {m + 1, 1, {1, 0}}, {m + 59, 1, {3, 0}}, {m + 30, 2, {1, 0}}});
    add({{m + 60, 1, {5, 5}}, {m + 185, 2, {0, 4}}, {m + 250, 1, {7, 0}}});
    const sums expected{
        {{m, 1}, {6, 1}}, {{m, 2}, {1, 0}}, {{m + 60, 1}, {5, 5}}, {{m + 180, 2}, {0, 4}}};
    // The seconds dropped before the fold (never done by the service, which expires only folded
    // seconds): what the fold writes can then only come from the sums.
    db->usage().expire(second, m + 240);
    REQUIRE(read(second, m, m + 240).empty());
    CHECK(db->usage().fold(minute, m + 245) == 3);
    CHECK(read(minute) == expected);
    CHECK(db->usage().coverage(minute).folded_until == m + 240);
    CHECK(db->usage().fold(minute, m + 245) == 0);
    CHECK(read(minute) == expected);
}

TEST_CASE_METHOD(rollup_fixture,
                 "minutes written before the store opened, or after their fold, are scanned",
                 "[rollup]") {
    const unix_seconds m = tomorrow();
    add({{m + 1, 1, {1, 0}}, {m + 61, 1, {1, 0}}});
    reopen();  // as after a restart: these minutes were not all seen by this store
    add({{m + 2, 1, {2, 0}}, {m + 62, 2, {3, 0}}, {m + 121, 1, {4, 0}}});
    CHECK(db->usage().fold(minute, m + 130) == 2);
    CHECK(read(minute) == sums{{{m, 1}, {3, 0}}, {{m + 60, 1}, {1, 0}}, {{m + 60, 2}, {3, 0}}});
    // Minute m+120 was seen whole after all (it starts after the reopen's last second); a
    // write to it after its fold is late, and folded again.
    CHECK(db->usage().fold(minute, m + 190) == 1);
    add({{m + 150, 1, {10, 0}}});
    db->usage().fold(minute, m + 190);
    CHECK(read(minute, m + 120, m + 180) == sums{{{m + 120, 1}, {14, 0}}});
}

TEST_CASE_METHOD(rollup_fixture, "a minute with more keys than are summed in memory is scanned",
                 "[rollup]") {
    const unix_seconds m = tomorrow();
    CHECK(db->usage().fold(minute, m) == 0);
    std::vector<usage_bucket> buckets;
    for (std::uint64_t k = 1; k <= usage_store::max_summed_keys + 10; ++k)
        buckets.push_back({m + static_cast<unix_seconds>(k % 60), k, {1, 0}});
    add(buckets);
    add({{m + 5, 1, {1, 0}}, {m + 65, 1, {2, 0}}});
    db->usage().fold(minute, m + 125);
    const sums rolled = read(minute);
    CHECK(rolled.size() == usage_store::max_summed_keys + 11);
    CHECK(rolled.at({m, 1}) == std::make_pair<std::uint64_t, std::uint64_t>(2, 0));
    CHECK(rolled.at({m, usage_store::max_summed_keys + 10}) ==
          std::make_pair<std::uint64_t, std::uint64_t>(1, 0));
    CHECK(rolled.at({m + 60, 1}) == std::make_pair<std::uint64_t, std::uint64_t>(2, 0));
}
