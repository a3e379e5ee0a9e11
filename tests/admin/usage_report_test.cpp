#include "admin/usage_report.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <tuple>
#include <utility>
#include <variant>
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
        rows.emplace_back(step.start, step.count.admitted, step.count.limited);
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
        const bool written = db->usage().add({
            {hour - 1, a, {100, 0}},  // before the range
            {hour + 5, a, {2, 1}},
            {hour + 59, b, {3, 0}},
            {hour + 60, a, {1, 0}},
            {hour + 125, c, {4, 4}},
            {hour + 3600, a, {50, 0}},  // after the range
        });
        if (!written) throw std::runtime_error("usage().add failed");
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
    return {report.total.admitted, report.total.limited};
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

namespace {

using rl::storage::usage_coverage;
constexpr unix_seconds far = std::numeric_limits<unix_seconds>::max();

// Coverage with nothing expired, minutes folded until `minutes`, hours until `hours`.
usage_coverages folded(unix_seconds minutes, unix_seconds hours) {
    return {usage_coverage{0, far}, usage_coverage{0, minutes}, usage_coverage{0, hours}};
}

usage_plan plan_of(const usage_coverages& c, unix_seconds since, unix_seconds until,
                   std::int64_t step) {
    auto plan = plan_usage(c, since, until, step);
    REQUIRE(std::holds_alternative<usage_plan>(plan));
    return std::get<usage_plan>(plan);
}

std::string error_of(const usage_coverages& c, unix_seconds since, unix_seconds until,
                     std::int64_t step) {
    auto plan = plan_usage(c, since, until, step);
    REQUIRE(std::holds_alternative<std::string>(plan));
    return std::get<std::string>(plan);
}

using source_row = std::tuple<std::int64_t, unix_seconds, unix_seconds>;
std::vector<source_row> sources_of(const usage_plan& plan) {
    std::vector<source_row> rows;
    for (const auto& s : plan.sources)
        rows.emplace_back(rl::storage::period_of(s.resolution), s.from, s.until);
    return rows;
}

}  // namespace

TEST_CASE("without roll-ups a plan reads seconds only", "[usage_plan]") {
    const auto plan = plan_of(folded(0, 0), hour + 5, hour + 7200, 3600);
    CHECK(plan.since == hour + 5);
    CHECK(plan.until == hour + 7201);
    CHECK(plan.finest == usage_resolution::second);
    CHECK(sources_of(plan) == std::vector<source_row>{{1, hour + 5, hour + 7201}});
}

TEST_CASE("a plan reads whole hours, then minutes, then seconds up to each watermark",
          "[usage_plan]") {
    // Minutes folded until hour+3h+10m, hours until hour+3h.
    const auto c = folded(hour + 3 * 3600 + 600, hour + 3 * 3600);
    const auto plan = plan_of(c, hour + 30, hour + 4 * 3600 - 1, 3600);
    CHECK(sources_of(plan) == std::vector<source_row>{{1, hour + 30, hour + 60},
                                                      {60, hour + 60, hour + 3600},
                                                      {3600, hour + 3600, hour + 3 * 3600},
                                                      {60, hour + 3 * 3600, hour + 3 * 3600 + 600},
                                                      {1, hour + 3 * 3600 + 600, hour + 4 * 3600}});
    // A step of minutes cannot use hours; a step of 7 s only seconds.
    CHECK(sources_of(plan_of(c, hour, hour + 3599, 60)) ==
          std::vector<source_row>{{60, hour, hour + 3600}});
    CHECK(sources_of(plan_of(c, hour, hour + 3599, 7)) ==
          std::vector<source_row>{{1, hour, hour + 3600}});
}

TEST_CASE("a range older than the seconds kept is widened to minutes, then hours", "[usage_plan]") {
    usage_coverages c = folded(hour + 86400, hour + 86400);
    c[0].kept_from = hour + 7200;  // seconds from hour+2h on
    c[1].kept_from = hour + 3600;  // minutes from hour+1h on

    const auto minutes = plan_of(c, hour + 3600 + 90, hour + 86400 - 1, 0);
    CHECK(minutes.finest == usage_resolution::minute);
    CHECK(minutes.since == hour + 3600 + 60);
    CHECK(minutes.step == 3600);
    CHECK(plan_of(c, hour + 7200 + 1, hour + 7300, 0).step == 1);
    CHECK(plan_of(c, hour + 3600 + 1, hour + 3700, 0).step == 60);  // default 1 s raised

    const auto hours = plan_of(c, hour + 1, hour + 86400 - 1, 0);
    CHECK(hours.finest == usage_resolution::hour);
    CHECK(hours.since == hour);

    const std::string error = error_of(c, hour + 3600 + 1, hour + 86400, 1);
    CHECK(error.find("kept per minute only") != std::string::npos);
    CHECK(error.find("2026-11-27T23:00:00Z") != std::string::npos);
    CHECK(error_of(c, hour + 1, hour + 86400, 60).find("per hour only") != std::string::npos);
}

TEST_CASE("a plan with too many steps is refused", "[usage_plan]") {
    const auto c = folded(0, 0);
    CHECK(error_of(c, hour, hour + max_report_steps, 1).find("larger --step") != std::string::npos);
    CHECK(plan_of(c, hour, hour + max_report_steps - 1, 1).step == 1);
}

TEST_CASE_METHOD(usage_fixture,
                 "a report from roll-ups, with old seconds expired, equals one from seconds",
                 "[usage_plan]") {
    // More usage over two days, every key, odd seconds.
    std::vector<rl::storage::usage_bucket> more;
    for (std::uint64_t t = 0; t < 2 * 86400; t += 997)
        more.push_back({hour + static_cast<unix_seconds>(t),
                        (t % 3 == 0   ? a
                         : t % 3 == 1 ? b
                                      : c),
                        {t % 5 + 1, t % 2}});
    REQUIRE(db->usage().add(more));

    usage_query query;
    query.since = hour - 3600;
    query.until = hour + 2 * 86400;
    std::vector<usage_report> before;
    for (std::int64_t step : {60, 3600, 86400}) {
        query.step = step;
        before.push_back(report(query));
    }
    query.user = "alice";
    const auto alice_before = report(query);

    const unix_seconds now = hour + 2 * 86400 + 100;
    REQUIRE(db->usage().fold(usage_resolution::minute, now) > 0);
    REQUIRE(db->usage().fold(usage_resolution::hour, now) > 0);
    db->usage().expire(usage_resolution::second, hour + 86400);
    db->usage().expire(usage_resolution::minute, hour - 3600);
    db->usage().expire(usage_resolution::hour, hour - 7200);

    const auto c = coverages_of(*db);
    CHECK(c[1].folded_until == hour + 2 * 86400 + 60);
    CHECK(c[2].folded_until == hour + 2 * 86400);
    query.user.reset();
    std::size_t i = 0;
    for (std::int64_t step : {60, 3600, 86400}) {
        query.step = step;
        const auto plan = plan_of(c, query.since, query.until, step);
        const auto after = build_usage_report(*db, plan, query);
        INFO("step " << step);
        CHECK(plan.finest == usage_resolution::minute);
        CHECK(plan.sources.front().resolution != usage_resolution::second);
        CHECK(rows_of(after) == rows_of(before[i]));
        CHECK(total_of(after) == total_of(before[i++]));
    }
    query.user = "alice";
    const auto alice_after =
        build_usage_report(*db, plan_of(c, query.since, query.until, 86400), query);
    CHECK(rows_of(alice_after) == rows_of(alice_before));
}

TEST_CASE_METHOD(usage_fixture, "usage by user sums each user's keys, heaviest first",
                 "[usage_plan]") {
    const auto plan = plan_of(coverages_of(*db), hour, hour + 125, 86400);
    auto users = usage_by_user(*db, plan);
    REQUIRE(users.size() == 2);
    CHECK(users[0].user == "alice");
    CHECK(std::make_pair(users[0].count.admitted, users[0].count.limited) == counts{6, 1});
    CHECK(users[1].user == "bob");
    CHECK(std::make_pair(users[1].count.admitted, users[1].count.limited) == counts{4, 4});

    REQUIRE(catalog.delete_user("bob").status == rl::admin::outcome::ok);
    users = usage_by_user(*db, plan);
    REQUIRE(users.size() == 2);
    CHECK(users[1].user == "(deleted)");
    CHECK(users[1].count.admitted == 4);
}

TEST_CASE_METHOD(usage_fixture, "reports and per-user sums carry shadow-limited counts",
                 "[usage_report]") {
    REQUIRE(db->usage().add(
        {{hour + 6, a, {0, 0, 3}}, {hour + 61, b, {1, 0, 2}}, {hour + 125, c, {0, 0, 9}}}));
    const auto r = report(range(60));
    REQUIRE(r.buckets.size() == 3);
    CHECK(r.buckets[0].count.shadow_limited == 3);
    CHECK(r.buckets[1].count.shadow_limited == 2);
    CHECK(r.buckets[2].count.shadow_limited == 9);
    // The other counts are as without shadow mode, plus b's one admit.
    CHECK(rows_of(r) == std::vector<step_row>{{hour, 5, 1}, {hour + 60, 2, 0}, {hour + 120, 4, 4}});
    CHECK(r.total.shadow_limited == 14);

    usage_query alice = range(3600);
    alice.user = "alice";
    CHECK(report(alice).total.shadow_limited == 5);

    const auto users = usage_by_user(*db, plan_of(coverages_of(*db), hour, hour + 125, 86400));
    REQUIRE(users.size() == 2);
    CHECK(users[0].user == "alice");
    CHECK(users[0].count.shadow_limited == 5);
    CHECK(users[1].count.shadow_limited == 9);
}
