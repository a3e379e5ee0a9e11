// What rlctl prints for usage and top: CSV, tables and the chart, from the admin API's JSON.

#include "cli/output.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;
using namespace rl::cli;

namespace {

// Three minutes with requests in a 10-minute range at a step of 1m.
const json report = json::parse(R"({
    "since": "2026-11-27T21:00:00Z", "until": "2026-11-27T21:09:59Z", "step": 60,
    "resolution": 1,
    "buckets": [
        {"start": "2026-11-27T21:00:00Z", "allowed": 10, "rejected": 0},
        {"start": "2026-11-27T21:03:00Z", "allowed": 5, "rejected": 5},
        {"start": "2026-11-27T21:09:00Z", "allowed": 1, "rejected": 0}],
    "total": {"allowed": 16, "rejected": 5}})");

const json top = json::parse(R"({
    "since": "2026-11-27T21:00:00Z", "until": "2026-11-27T21:04:59Z", "limit": 10,
    "by_admitted": [{"user": "ann", "allowed": 30, "rejected": 0},
                    {"user": "bea", "allowed": 10, "rejected": 7}],
    "by_rejected": [{"user": "bea", "allowed": 10, "rejected": 7}],
    "total": {"allowed": 40, "rejected": 7}})");

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Terminal columns of a UTF-8 line (each code point is one column here).
std::size_t width_of(const std::string& line) {
    return static_cast<std::size_t>(std::count_if(line.begin(), line.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("usage as CSV: a header row, then one row per step with requests", "[output]") {
    CHECK(format_usage_csv(report) ==
          "start,allowed,rejected\n"
          "2026-11-27T21:00:00Z,10,0\n"
          "2026-11-27T21:03:00Z,5,5\n"
          "2026-11-27T21:09:00Z,1,0\n");
    json empty = report;
    empty["buckets"] = json::array();
    CHECK(format_usage_csv(empty) == "start,allowed,rejected\n");
}

TEST_CASE("usage as a table ends with the totals", "[output]") {
    CHECK(format_usage(report, "user ann") ==
          "usage of user ann from 2026-11-27T21:00:00Z to 2026-11-27T21:09:59Z, step 1m\n"
          "START                 ALLOWED  REJECTED\n"
          "2026-11-27T21:00:00Z       10         0\n"
          "2026-11-27T21:03:00Z        5         5\n"
          "2026-11-27T21:09:00Z        1         0\n"
          "TOTAL                      16         5\n");
}

TEST_CASE("the chart has a column per step, stacked bars and labelled axes", "[output]") {
    const std::string chart = format_usage_chart(report, "user ann", 64, 10);
    const auto lines = lines_of(chart);
    REQUIRE(lines.size() == 1 + 10 + 3);
    CHECK(lines[0].rfind("usage of user ann from 2026-11-27T21:00:00Z", 0) == 0);
    CHECK(lines[1].rfind("10 ┤█", 0) == 0);  // the peak, minute 0 at full height
    // Minute 3: 5 allowed (5 cells) under 5 rejected (5 cells); minute 9: one cell.
    CHECK(lines[1] == "10 ┤█  ░");
    CHECK(lines[5] == "   │█  ░");
    CHECK(lines[7] == "   │█  █");
    CHECK(lines[10] == "   │█  █     █");
    CHECK(lines[11] == " 0 └──────────");
    CHECK(lines[12] == "    2026-11-27T21:00:00Z to 2026-11-27T21:09:00Z");
    CHECK(lines[13] == "    one column = 1m  █ allowed  ░ rejected");
    CHECK(count_of(chart, "█") == 10 + 5 + 1 + 1);
    CHECK(count_of(chart, "░") == 5 + 1);
}

TEST_CASE("a long range is merged into columns that fit 80 terminal columns", "[output]") {
    json day = report;
    day["since"] = "2026-11-27T00:00:00Z";
    day["until"] = "2026-11-27T23:59:59Z";  // 1440 minutes: 23 per column, 63 columns
    const std::string chart = format_usage_chart(day, "everyone");
    for (const auto& line : lines_of(chart)) CHECK(width_of(line) <= 80);
    CHECK(chart.find("one column = 23m") != std::string::npos);
    CHECK(chart.find("    2026-11-27T00:00:00Z") != std::string::npos);
    CHECK(chart.find("2026-11-27T23:46:00Z\n") != std::string::npos);  // the 63rd column
    // 21:00 and 21:03 fall in the column from 20:42 (15 allowed, 5 rejected: the peak), 21:09
    // in the next one (1 allowed: half a cell, shown as one).
    CHECK(count_of(chart, "█") == 8 + 1 + 1);  // and one in the legend
    CHECK(count_of(chart, "░") == 2 + 1);
}

TEST_CASE("a chart of nothing says so", "[output]") {
    json empty = report;
    empty["buckets"] = json::array();
    CHECK(format_usage_chart(empty, "x").find("(no requests in this range)") != std::string::npos);
}

TEST_CASE("top prints a table per ranking, and CSV with the ranking in a column", "[output]") {
    CHECK(format_top(top) ==
          "heaviest users by admitted from 2026-11-27T21:00:00Z to 2026-11-27T21:04:59Z\n"
          "RANK  USER  ALLOWED  REJECTED\n"
          "   1  ann        30         0\n"
          "   2  bea        10         7\n"
          "\n"
          "heaviest users by rejected from 2026-11-27T21:00:00Z to 2026-11-27T21:04:59Z\n"
          "RANK  USER  ALLOWED  REJECTED\n"
          "   1  bea        10         7\n");
    CHECK(format_top_csv(top) ==
          "by,rank,user,allowed,rejected\n"
          "admitted,1,ann,30,0\n"
          "admitted,2,bea,10,7\n"
          "rejected,1,bea,10,7\n");
    json only = top;
    only.erase("by_admitted");
    only["by_rejected"] = json::array();
    CHECK(format_top(only) ==
          "heaviest users by rejected from 2026-11-27T21:00:00Z to 2026-11-27T21:04:59Z\n"
          "(none)\n");
}

TEST_CASE("usage shows a shadow column only when shadow mode counted something", "[output]") {
    json zero = report;  // as a server with shadow mode sends it, with none counted
    for (auto& bucket : zero["buckets"]) bucket["shadow_limited"] = 0;
    zero["total"]["shadow_limited"] = 0;
    CHECK(format_usage(zero, "user ann") == format_usage(report, "user ann"));
    CHECK(format_usage_csv(zero) == format_usage_csv(report));

    json shadow = zero;
    shadow["buckets"][1]["shadow_limited"] = 12;
    shadow["total"]["shadow_limited"] = 12;
    CHECK(format_usage(shadow, "user ann") ==
          "usage of user ann from 2026-11-27T21:00:00Z to 2026-11-27T21:09:59Z, step 1m\n"
          "START                 ALLOWED  REJECTED  SHADOW\n"
          "2026-11-27T21:00:00Z       10         0       0\n"
          "2026-11-27T21:03:00Z        5         5      12\n"
          "2026-11-27T21:09:00Z        1         0       0\n"
          "TOTAL                      16         5      12\n");
    CHECK(format_usage_csv(shadow) ==
          "start,allowed,rejected,shadow_limited\n"
          "2026-11-27T21:00:00Z,10,0,0\n"
          "2026-11-27T21:03:00Z,5,5,12\n"
          "2026-11-27T21:09:00Z,1,0,0\n");
}

TEST_CASE("top by shadow prints its own ranking with a shadow column", "[output]") {
    const json shadow = json::parse(R"({
        "since": "2026-11-27T21:00:00Z", "until": "2026-11-27T21:04:59Z", "limit": 10,
        "by_shadow": [{"user": "cid", "allowed": 2, "rejected": 0, "shadow_limited": 40},
                      {"user": "bea", "allowed": 10, "rejected": 7, "shadow_limited": 3}],
        "total": {"allowed": 12, "rejected": 7, "shadow_limited": 43}})");
    CHECK(format_top(shadow) ==
          "heaviest users by shadow-limited from 2026-11-27T21:00:00Z to 2026-11-27T21:04:59Z\n"
          "RANK  USER  ALLOWED  REJECTED  SHADOW\n"
          "   1  cid         2         0      40\n"
          "   2  bea        10         7       3\n");
    CHECK(format_top_csv(shadow) ==
          "by,rank,user,allowed,rejected,shadow_limited\n"
          "shadow,1,cid,2,0,40\n"
          "shadow,2,bea,10,7,3\n");
    json none = shadow;
    none["by_shadow"] = json::array();
    none["total"]["shadow_limited"] = 0;
    CHECK(format_top(none) ==
          "heaviest users by shadow-limited from 2026-11-27T21:00:00Z to 2026-11-27T21:04:59Z\n"
          "(none)\n");
}

TEST_CASE("a table printed a page at a time has one header and columns that only widen",
          "[output]") {
    paged_table table;
    const auto first = lines_of(format_table({{"NAME"}, {"N", true}}, {{"al", "1"}}, &table));
    const auto second =
        lines_of(format_table({{"NAME"}, {"N", true}}, {{"bob", "22"}, {"c", "3"}}, &table));
    const auto third = lines_of(format_table({{"NAME"}, {"N", true}}, {{"d", "4"}}, &table));
    CHECK(first == std::vector<std::string>{"NAME  N", "al    1"});
    CHECK(second == std::vector<std::string>{"bob   22", "c      3"});
    CHECK(third == std::vector<std::string>{"d      4"});  // as wide as the widest so far
}

TEST_CASE("the user table shows each user's plan and limits, the plan table each plan's") {
    const nlohmann::json users = nlohmann::json::parse(R"([
        {"name":"alice","plan":"free","limits":["1s:5","day:1000"],"limit":5,
         "default_limit":false,"disabled":false,"created_at":"2026-12-01T00:00:00Z"},
        {"name":"bob","plan":null,"limits":["1m:60"],"limit":null,
         "default_limit":false,"disabled":true,"created_at":"2026-12-01T00:00:00Z"}])");
    CHECK(rl::cli::format_users(users) ==
          "NAME   PLAN   LIMITS         DISABLED  CREATED\n"
          "alice  free   1s:5,day:1000  no        2026-12-01T00:00:00Z\n"
          "bob    (own)  1m:60          yes       2026-12-01T00:00:00Z\n");
    const nlohmann::json plans = nlohmann::json::parse(R"([
        {"name":"default","limits":["1s:10"],"shadow":false,"builtin":true,
         "created_at":null,"updated_at":null},
        {"name":"free","limits":["1s:5","day:1000"],"shadow":true,"builtin":false,
         "created_at":"2026-12-01T00:00:00Z","updated_at":"2026-12-01T01:00:00Z"}])");
    CHECK(rl::cli::format_plans(plans) ==
          "NAME     LIMITS         SHADOW  UPDATED\n"
          "default  1s:10          no      built-in\n"
          "free     1s:5,day:1000  yes     2026-12-01T01:00:00Z\n");
    CHECK(rl::cli::format_plan(plans[1]).find("limits   1s:5,day:1000\n") != std::string::npos);
}
