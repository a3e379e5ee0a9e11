#include "admin/usage_report.hpp"

#include <catch2/catch.hpp>

#include <tuple>
#include <utility>
#include <vector>

#include "tests/admin/admin_fixture.hpp"

namespace {

using namespace rl::admin;
using rl::common::unix_seconds;
using rl::testing::admin_fixture;

constexpr unix_seconds hour = 1795813200;  // 2026-11-27T21:00:00Z, a whole hour

// (start, allowed, rejected) of every step in a report.
using step_row = std::tuple<unix_seconds, std::uint64_t, std::uint64_t>;
std::vector<step_row> rows_of(const usage_report& report) {
    std::vector<step_row> rows;
    for (const auto& step : report.buckets)
        rows.emplace_back(step.start, step.count.allowed, step.count.rejected);
    return rows;
}

// Alice has keys a and b, bob has key c; usage around the hour starting at `hour`.
struct usage_fixture : admin_fixture {
    std::uint64_t a = 0, b = 0, c = 0;

    usage_fixture() {
        make_user("alice");
        make_user("bob");
        a = make_key("alice").record.key_id;
        b = make_key("alice").record.key_id;
        c = make_key("bob").record.key_id;
        const bool written = db->add_usage({
            {hour - 1, a, {100, 0}},  // before the range
            {hour + 5, a, {2, 1}},
            {hour + 59, b, {3, 0}},
            {hour + 60, a, {1, 0}},
            {hour + 125, c, {4, 4}},
            {hour + 3600, a, {50, 0}},  // after the range
        });
        if (!written) throw std::runtime_error("add_usage failed");
    }

    usage_report report(const usage_query& query) { return build_usage_report(*db, query); }
};

// A query over [since, until], by default the fixture's range of interest.
usage_query range(std::int64_t step, unix_seconds since = hour, unix_seconds until = hour + 125) {
    usage_query query;
    query.step = step;
    query.since = since;
    query.until = until;
    return query;
}

// (allowed, rejected) over the whole report.
std::pair<std::uint64_t, std::uint64_t> total_of(const usage_report& report) {
    return {report.total.allowed, report.total.rejected};
}
using counts = std::pair<std::uint64_t, std::uint64_t>;

}  // namespace

TEST_CASE("the default step gives a readable number of buckets", "[usage_report]") {
    CHECK(default_step(0, 120) == 1);
    CHECK(default_step(0, 121) == 60);
    CHECK(default_step(0, 3 * 3600) == 60);
    CHECK(default_step(0, 3 * 3600 + 1) == 3600);
    CHECK(default_step(0, 3 * 86400) == 3600);
    CHECK(default_step(0, 3 * 86400 + 1) == 86400);
}

TEST_CASE_METHOD(usage_fixture, "a report sums everyone's usage into epoch-aligned steps",
                 "[usage_report]") {
    const auto r = report(range(60));
    CHECK(r.step == 60);
    CHECK(rows_of(r) == std::vector<step_row>{{hour, 5, 1}, {hour + 60, 1, 0}, {hour + 120, 4, 4}});
    CHECK(total_of(r) == counts{10, 5});
}

TEST_CASE_METHOD(usage_fixture, "a report includes the second `until` and nothing after",
                 "[usage_report]") {
    const auto r = report(range(1, hour, hour + 124));
    CHECK(rows_of(r) ==
          std::vector<step_row>{{hour + 5, 2, 1}, {hour + 59, 3, 0}, {hour + 60, 1, 0}});
    CHECK(total_of(r) == counts{6, 1});
    CHECK(total_of(report(range(1, hour - 1, hour + 3600))) == counts{160, 5});
    CHECK(total_of(report(range(1, hour + 6, hour + 59))) == counts{3, 0});
}

TEST_CASE_METHOD(usage_fixture, "steps line up with multiples of the step since the epoch",
                 "[usage_report]") {
    const auto r = report(range(7, hour + 3));
    // hour + 1 is a multiple of 7; hour + 59 and hour + 60 share the step from hour + 57.
    CHECK(rows_of(r) ==
          std::vector<step_row>{{hour + 1, 2, 1}, {hour + 57, 4, 0}, {hour + 120, 4, 4}});
    for (const auto& step : r.buckets) CHECK(step.start % 7 == 0);
}

TEST_CASE_METHOD(usage_fixture, "a step of zero or less is read as one second", "[usage_report]") {
    CHECK(report(range(0)).step == 1);
    CHECK(report(range(-60)).buckets.size() == 4);
}

TEST_CASE_METHOD(usage_fixture, "a report for a user counts all of their keys and no others",
                 "[usage_report]") {
    usage_query query = range(60);
    query.user = "alice";
    const auto alice = report(query);
    CHECK(rows_of(alice) == std::vector<step_row>{{hour, 5, 1}, {hour + 60, 1, 0}});
    CHECK(total_of(alice) == counts{6, 1});

    query.user = "bob";
    CHECK(rows_of(report(query)) == std::vector<step_row>{{hour + 120, 4, 4}});

    make_user("carol");
    query.user = "carol";
    const auto carol = report(query);
    CHECK(carol.buckets.empty());
    CHECK(total_of(carol) == counts{0, 0});
}

TEST_CASE_METHOD(usage_fixture, "a report for a key counts only that key", "[usage_report]") {
    usage_query query = range(3600);
    query.key_id = b;
    const auto r = report(query);
    CHECK(rows_of(r) == std::vector<step_row>{{hour, 3, 0}});
    CHECK(total_of(r) == counts{3, 0});

    std::uint64_t unused = 1;
    while (unused == a || unused == b || unused == c) ++unused;
    query.key_id = unused;
    CHECK(report(query).buckets.empty());
}
