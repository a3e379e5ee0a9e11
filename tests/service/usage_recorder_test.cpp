#include <catch2/catch.hpp>

#include <map>

#include "service/usage_recorder.hpp"
#include "tests/support/temp_dir.hpp"

using rl::service::usage_event;
using rl::service::usage_kind;
using rl::service::usage_write;

namespace {

std::map<std::pair<std::int64_t, std::uint64_t>, rl::storage::usage_count> stored(
    const rl::storage::data_dir& store) {
    std::map<std::pair<std::int64_t, std::uint64_t>, rl::storage::usage_count> out;
    store.usage().scan({rl::storage::usage_resolution::second, 0, INT64_MAX},
                       [&](const rl::storage::usage_bucket& b) {
                           out[{b.start, b.key_id}] += b.count;
                       });
    return out;
}

}  // namespace

TEST_CASE("a batch is summed per second and key, admitted and rejected apart") {
    rl::testing::temp_dir dir;
    auto store = rl::storage::data_dir::open(dir / "data");
    rl::service::usage_recorder usage(*store);
    REQUIRE(usage.record({{7, 100, usage_kind::admitted},
                          {7, 100, usage_kind::admitted},
                          {7, 100, usage_kind::limited},
                          {8, 100, usage_kind::admitted},
                          {7, 101, usage_kind::limited},
                          {8, 100, usage_kind::limited},
                          {7, 100, usage_kind::admitted}}) == usage_write::written);
    REQUIRE(usage.record({{7, 100, usage_kind::admitted}}) == usage_write::written);
    const auto buckets = stored(*store);
    REQUIRE(buckets.size() == 3);
    REQUIRE(buckets.at({100, 7}).admitted == 4);
    REQUIRE(buckets.at({100, 7}).limited == 1);
    REQUIRE(buckets.at({100, 8}).admitted == 1);
    REQUIRE(buckets.at({100, 8}).limited == 1);
    REQUIRE(buckets.at({101, 7}).admitted == 0);
    REQUIRE(buckets.at({101, 7}).limited == 1);
    REQUIRE(usage.batches() == 2);
    REQUIRE(usage.failures() == 0);
}

TEST_CASE("shadow-limited requests are counted apart from admitted and limited ones") {
    rl::testing::temp_dir dir;
    auto store = rl::storage::data_dir::open(dir / "data");
    rl::service::usage_recorder usage(*store);
    REQUIRE(usage.record({{7, 100, usage_kind::shadow_limited},
                          {7, 100, usage_kind::admitted},
                          {7, 100, usage_kind::shadow_limited},
                          {7, 100, usage_kind::limited},
                          {8, 100, usage_kind::shadow_limited}}) == usage_write::written);
    REQUIRE(usage.record({{7, 100, usage_kind::shadow_limited}}) == usage_write::written);
    const auto buckets = stored(*store);
    REQUIRE(buckets.size() == 2);
    CHECK(buckets.at({100, 7}).admitted == 1);
    CHECK(buckets.at({100, 7}).limited == 1);
    CHECK(buckets.at({100, 7}).shadow_limited == 3);
    CHECK(buckets.at({100, 8}).admitted == 0);
    CHECK(buckets.at({100, 8}).limited == 0);
    CHECK(buckets.at({100, 8}).shadow_limited == 1);
}

TEST_CASE("each usage kind adds one to its own count") {
    using rl::service::count_of;
    CHECK(count_of(usage_kind::admitted).admitted == 1);
    CHECK(count_of(usage_kind::admitted).limited + count_of(usage_kind::admitted).shadow_limited ==
          0);
    CHECK(count_of(usage_kind::limited).limited == 1);
    CHECK(count_of(usage_kind::limited).admitted + count_of(usage_kind::limited).shadow_limited ==
          0);
    CHECK(count_of(usage_kind::shadow_limited).shadow_limited == 1);
    CHECK(count_of(usage_kind::shadow_limited).admitted +
              count_of(usage_kind::shadow_limited).limited ==
          0);
}

TEST_CASE("an empty batch writes nothing and succeeds") {
    rl::testing::temp_dir dir;
    auto store = rl::storage::data_dir::open(dir / "data");
    rl::service::usage_recorder usage(*store);
    REQUIRE(usage.record({}) == usage_write::written);
    REQUIRE(usage.batches() == 0);
    REQUIRE(stored(*store).empty());
}
