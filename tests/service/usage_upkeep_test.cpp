#include "service/usage_upkeep.hpp"

#include <catch2/catch.hpp>

#include "tests/storage/data_dir_fixture.hpp"

namespace {

using rl::common::unix_seconds;
using rl::service::usage_retention;
using rl::service::usage_upkeep;
using rl::storage::usage_resolution;

constexpr unix_seconds day = 1795737600;  // 2026-11-27T00:00:00Z

std::uint64_t admitted_in(const rl::storage::data_dir& db, usage_resolution r) {
    std::uint64_t sum = 0;
    db.usage().scan(rl::storage::usage_range{r, 0, day + 400 * 86400, nullptr},
                    [&](const rl::storage::usage_bucket& b) { sum += b.count.admitted; });
    return sum;
}

}  // namespace

TEST_CASE_METHOD(rl::testing::data_dir_fixture,
                 "upkeep folds closed minutes after a grace, and hours once their minutes are in",
                 "[usage_upkeep]") {
    usage_upkeep upkeep(db->usage(), usage_retention{});
    REQUIRE(
        db->usage().add({{day + 10, 1, {1, 0}}, {day + 65, 1, {2, 0}}, {day + 3700, 2, {4, 0}}}));
    CHECK(upkeep.fold(day + 65) == 0);  // minute `day` ended 5 s ago: still in its grace
    CHECK(upkeep.fold(day + 70) == 1);
    CHECK(db->usage().coverage(usage_resolution::minute).folded_until == day + 60);
    CHECK(upkeep.fold(day + 3600 + 130) == 3);  // minutes day+60 and day+3660; hour day
    CHECK(db->usage().coverage(usage_resolution::hour).folded_until == day + 3600);
    CHECK(admitted_in(*db, usage_resolution::minute) == 7);
    CHECK(admitted_in(*db, usage_resolution::hour) == 3);
}

TEST_CASE_METHOD(rl::testing::data_dir_fixture,
                 "upkeep expires each resolution after its retention, never unfolded usage",
                 "[usage_upkeep]") {
    const usage_retention keep{std::chrono::hours(1), std::chrono::hours(2), std::chrono::hours(3)};
    usage_upkeep upkeep(db->usage(), keep);
    REQUIRE(db->usage().add({{day + 10, 1, {1, 0}}, {day + 4000, 1, {2, 0}}}));
    // Nothing folded yet: the seconds stay however old they are.
    upkeep.expire(day + 86400);
    CHECK(admitted_in(*db, usage_resolution::second) == 3);

    REQUIRE(db->usage().fold(usage_resolution::minute, day + 3600) == 1);  // only `day`'s minute
    upkeep.expire(day + 86400);
    CHECK(admitted_in(*db, usage_resolution::second) == 2);
    CHECK(db->usage().coverage(usage_resolution::second).kept_from == day + 3600);

    upkeep.fold(day + 86400);
    upkeep.expire(day + 86400);
    CHECK(admitted_in(*db, usage_resolution::second) == 0);
    CHECK(admitted_in(*db, usage_resolution::minute) == 0);
    CHECK(admitted_in(*db, usage_resolution::hour) == 0);
    CHECK(db->usage().coverage(usage_resolution::minute).kept_from == day + 86400 - 7200);
    CHECK(db->usage().coverage(usage_resolution::hour).kept_from == day + 86400 - 3 * 3600);

    // Within retention, everything stays.
    REQUIRE(db->usage().add({{day + 86400 + 200, 1, {9, 0}}}));
    upkeep.fold(day + 86400 + 3700);
    upkeep.expire(day + 86400 + 3700);
    CHECK(admitted_in(*db, usage_resolution::second) == 9);
    CHECK(admitted_in(*db, usage_resolution::minute) == 9);
    CHECK(admitted_in(*db, usage_resolution::hour) == 9);
}
