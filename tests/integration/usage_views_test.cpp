// rlctl usage views over known usage: live /limit traffic in table, JSON, CSV and chart form;
// 30 days of planted usage reported from the roll-ups once the server has folded them and
// expired the seconds, across kill -9, and offline.

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <thread>

#include "admin/catalog.hpp"
#include "common/time_text.hpp"
#include "storage/data_dir.hpp"
#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::common::unix_seconds;
using rl::testing::command_result;
using rl::testing::run_command;

namespace {

command_result rlctl(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), rl::testing::rlctl_path());
    return run_command(args, env);
}

// rlctl against a server through the environment, or on a data directory when `server` is null.
struct ctl {
    rl::testing::server_process* server = nullptr;
    std::string data_dir;

    command_result operator()(std::vector<std::string> args) const {
        if (!server) {
            args.insert(args.begin(), {"--data-dir", data_dir});
            return rlctl(args);
        }
        return rlctl(args, {"RL_ADMIN_URL=" + server->admin_url(),
                            "RL_ADMIN_TOKEN=" + server->admin_token()});
    }
    std::string out(std::vector<std::string> args) const {
        const auto r = (*this)(args);
        INFO("rlctl stderr: " << r.err);
        REQUIRE(r.exit_code == 0);
        return r.out;
    }
    json json_of(std::vector<std::string> args) const {
        args.insert(args.begin(), "--json");
        return json::parse(out(args));
    }
};

using counts = std::pair<std::uint64_t, std::uint64_t>;
counts counts_of(const json& j) {
    return {j.at("allowed").get<std::uint64_t>(), j.at("rejected").get<std::uint64_t>()};
}

// start -> (allowed, rejected) of a report's buckets.
std::map<std::string, counts> buckets_of(const json& report) {
    std::map<std::string, counts> out;
    for (const auto& b : report.at("buckets")) out[b.at("start").get<std::string>()] = counts_of(b);
    return out;
}

// Users "heavy" (three keys) and "light" (one), with usage planted once an hour over the last
// 700 hours, at 17 minutes 23 seconds past each hour, so no bucket sits on a range's edge.
struct planted_usage {
    rl::testing::temp_dir dir;
    std::string data = dir / "data";
    unix_seconds now = rl::common::wall_now();
    std::map<unix_seconds, counts> heavy_by_day;  // UTC day start -> sums
    counts heavy_total{0, 0}, everyone_total{0, 0};

    planted_usage() {
        auto store = rl::storage::data_dir::open(data);
        rl::admin::catalog catalog(*store, 10);
        REQUIRE(catalog.create_user("heavy", 5).status == rl::admin::outcome::created);
        REQUIRE(catalog.create_user("light", 5).status == rl::admin::outcome::created);
        std::vector<std::uint64_t> heavy_keys;
        for (int i = 0; i < 3; ++i)
            heavy_keys.push_back(catalog.create_key("heavy", "", 0).value->record.key_id);
        const auto light_key = catalog.create_key("light", "", 0).value->record.key_id;

        std::vector<rl::storage::usage_bucket> buckets;
        const unix_seconds this_hour = rl::common::floor_to(now, 3600);
        for (std::uint64_t k = 1; k <= 700; ++k) {
            const unix_seconds t = this_hour - static_cast<unix_seconds>(k) * 3600 + 17 * 60 + 23;
            const counts c{k % 7 + 1, k % 2};
            buckets.push_back({t, heavy_keys[k % 3], {c.first, c.second}});
            auto& day = heavy_by_day[rl::common::floor_to(t, 86400)];
            day.first += c.first;
            day.second += c.second;
            heavy_total.first += c.first;
            heavy_total.second += c.second;
            if (k % 5 == 0) buckets.push_back({t + 1, light_key, {100, 0}});
            everyone_total.first += c.first + (k % 5 == 0 ? 100 : 0);
            everyone_total.second += c.second;
        }
        REQUIRE(store->usage().add(buckets));
    }

    // What every view must say about the planted usage, however it is stored.
    void check_reports(const ctl& rlctl_on) const {
        const json days = rlctl_on.json_of({"usage", "--user", "heavy", "--since", "30d"});
        CHECK(days.at("step") == 86400);
        CHECK(counts_of(days.at("total")) == heavy_total);
        std::map<std::string, counts> expected_days;
        for (const auto& [start, c] : heavy_by_day)
            expected_days[rl::common::format_rfc3339(start)] = c;
        CHECK(buckets_of(days) == expected_days);

        const json hours =
            rlctl_on.json_of({"usage", "--user", "heavy", "--since", "30d", "--step", "1h"});
        CHECK(hours.at("buckets").size() == 700);
        CHECK(counts_of(hours.at("total")) == heavy_total);
        const json minutes =
            rlctl_on.json_of({"usage", "--user", "heavy", "--since", "2d", "--step", "1m"});
        CHECK(minutes.at("buckets").size() >= 47);
        CHECK(minutes.at("buckets").size() <= 48);
        CHECK(counts_of(rlctl_on.json_of({"usage", "--since", "30d"}).at("total")) ==
              everyone_total);

        const json ranking = rlctl_on.json_of({"top", "--since", "30d"});
        REQUIRE(ranking.at("by_admitted").size() == 2);
        CHECK(ranking.at("by_admitted")[0].at("user") == "light");
        CHECK(ranking.at("by_admitted")[0].at("allowed") == 140 * 100);
        CHECK(counts_of(ranking.at("by_admitted")[1]) == heavy_total);
        REQUIRE(ranking.at("by_rejected").size() == 1);
        CHECK(ranking.at("by_rejected")[0].at("user") == "heavy");

        const std::string csv =
            rlctl_on.out({"--csv", "usage", "--user", "heavy", "--since", "30d", "--step", "1d"});
        CHECK(csv.rfind("start,allowed,rejected\n", 0) == 0);
        const auto& [first_day, first_counts] = *heavy_by_day.begin();
        CHECK(csv.find(fmt::format("\n{},{},{}\n", rl::common::format_rfc3339(first_day),
                                   first_counts.first, first_counts.second)) != std::string::npos);
    }
};

}  // namespace

TEST_CASE("rlctl usage and top over live traffic: table, JSON, CSV and chart agree") {
    rl::testing::live_server server;
    const ctl on{&server.process(), ""};
    server.create_user("u", 3);
    server.create_user("v", 3);
    const std::string u1 = server.create_key("u"), u2 = server.create_key("u");
    const std::string v1 = server.create_key("v");
    for (int i = 0; i < 5; ++i) server.limit(u1);
    for (int i = 0; i < 2; ++i) server.limit(u2);
    server.limit(v1);

    const json report = on.json_of({"usage", "--user", "u", "--since", "5m", "--step", "1m"});
    CHECK(counts_of(report.at("total")) == counts{3, 4});
    CHECK(report.at("step") == 60);

    const std::string csv =
        on.out({"--csv", "usage", "--user", "u", "--since", "5m", "--step", "1d"});
    const std::string today =
        rl::common::format_rfc3339(rl::common::floor_to(rl::common::wall_now(), 86400));
    // The traffic is seconds old: it is today's, unless the day turned in between.
    CHECK((csv == "start,allowed,rejected\n" + today + ",3,4\n" ||
           csv.find(",3,4\n") == std::string::npos));
    CHECK(csv.rfind("start,allowed,rejected\n", 0) == 0);

    const std::string table = on.out({"usage", "--user", "u", "--since", "5m", "--step", "1d"});
    const auto total_row = table.substr(table.rfind("TOTAL"));
    std::istringstream words(total_row);
    std::string label, allowed, rejected;
    words >> label >> allowed >> rejected;
    CHECK(allowed == "3");
    CHECK(rejected == "4");

    const json ranking = on.json_of({"top", "--since", "5m"});
    CHECK(ranking.at("by_admitted") == json::parse(R"([
        {"user": "u", "allowed": 3, "rejected": 4, "shadow_limited": 0},
        {"user": "v", "allowed": 1, "rejected": 0, "shadow_limited": 0}])"));
    CHECK(ranking.at("by_rejected") ==
          json::parse(R"([{"user": "u", "allowed": 3, "rejected": 4, "shadow_limited": 0}])"));
    CHECK_FALSE(ranking.contains("by_shadow"));  // no shadow mode, no shadow ranking
    CHECK(on.json_of({"top", "--since", "5m", "--by", "shadow"}).at("by_shadow") == json::array());
    CHECK(on.out({"--csv", "top", "--since", "5m", "--by", "admitted", "--limit", "1"}) ==
          "by,rank,user,allowed,rejected\nadmitted,1,u,3,4\n");
    CHECK(on.out({"top", "--since", "5m", "--by", "rejected"}).find("   1  u") !=
          std::string::npos);

    const std::string chart =
        on.out({"usage", "--user", "u", "--since", "2m", "--step", "10s", "--chart"});
    CHECK(chart.find("┤") != std::string::npos);
    CHECK(chart.find("one column = 10s") != std::string::npos);
    CHECK(chart.find("█") != std::string::npos);
    CHECK(chart.find("░") != std::string::npos);

    CHECK(on({"--json", "usage", "--chart"}).exit_code == 2);
    CHECK(on({"--csv", "user", "list"}).exit_code == 2);
    CHECK(on({"--csv", "user", "create", "w"}).exit_code == 2);
    CHECK(on({"user", "show", "w"}).exit_code == 1);  // refused before anything was sent
    CHECK(on({"--csv", "--json", "usage"}).exit_code == 2);
    CHECK(on({"top", "--by", "weight"}).exit_code == 2);
    CHECK(on({"usage", "--step", "fortnightly"}).exit_code == 2);
}

TEST_CASE("30 days of usage read the same offline, from roll-ups, and after kill -9") {
    planted_usage planted;
    INFO("offline, seconds only");
    planted.check_reports(ctl{nullptr, planted.data});

    // Per-second usage kept 1h: the server folds everything into minutes and hours, then drops
    // the old seconds, so reports over 30 days can only come from the roll-ups.
    const std::vector<std::string> args = {"--retention-1s", "1h"};
    auto server = std::make_unique<rl::testing::server_process>(planted.data, args);
    const ctl on{server.get(), ""};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    command_result fine;
    while (std::chrono::steady_clock::now() < deadline) {
        fine = on({"usage", "--since", "2h", "--step", "1s"});
        if (fine.exit_code != 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    INFO("rlctl stderr: " << fine.err);
    REQUIRE(fine.exit_code == 1);
    CHECK(fine.err.find("kept per minute only") != std::string::npos);
    CHECK(on.json_of({"usage", "--since", "2h"}).at("resolution") == 60);
    planted.check_reports(on);

    server->kill_hard();
    server = std::make_unique<rl::testing::server_process>(planted.data, args);
    const ctl again{server.get(), ""};
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a fold or two
    planted.check_reports(again);
    REQUIRE(server->stop() == 0);

    INFO("offline, from the roll-ups");
    planted.check_reports(ctl{nullptr, planted.data});
}
