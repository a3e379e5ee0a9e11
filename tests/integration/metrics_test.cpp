// GET /metrics on a live server: counters equal the traffic sent, and the Grafana dashboard in
// deploy/ uses only metrics the server exports.

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>

#include "tests/integration/metrics_support.hpp"

using rl::testing::live_server;

namespace {

// Every string under an "expr" key, anywhere in the document.
void collect_exprs(const nlohmann::json& node, std::vector<std::string>& out) {
    if (node.is_object()) {
        for (const auto& [name, value] : node.items()) {
            if (name == "expr" && value.is_string())
                out.push_back(value.get<std::string>());
            else
                collect_exprs(value, out);
        }
    } else if (node.is_array()) {
        for (const auto& value : node) collect_exprs(value, out);
    }
}

}  // namespace

TEST_CASE("/metrics counts exactly the /limit answers clients got") {
    live_server server;
    auto seen = rl::testing::send_known_traffic(server);
    const auto metrics = rl::testing::parse_metrics(rl::testing::fetch_metrics(server));
    rl::testing::require_counters_match(metrics, seen);
}

TEST_CASE("/metrics needs the admin token") {
    live_server server;
    REQUIRE(rl::testing::http_request("GET", server.process().admin_url() + "/metrics").status ==
            401);
}

TEST_CASE("the Grafana dashboard queries only metrics that exist") {
    std::ifstream file(RL_SOURCE_DIR "/deploy/grafana/ratelimitd.json");
    REQUIRE(file);
    const auto dashboard = nlohmann::json::parse(file, nullptr, false);
    REQUIRE_FALSE(dashboard.is_discarded());
    std::vector<std::string> exprs;
    collect_exprs(dashboard, exprs);
    REQUIRE(exprs.size() >= 5);

    live_server server;
    server.limit("");  // so every series has been touched once
    std::set<std::string> exported;
    for (const auto& [series, value] :
         rl::testing::parse_metrics(rl::testing::fetch_metrics(server)))
        exported.insert(series.substr(0, series.find('{')));
    const std::regex metric_name("ratelimitd_[a-z_]+");
    std::set<std::string> used;
    for (const auto& expr : exprs)
        for (auto it = std::sregex_iterator(expr.begin(), expr.end(), metric_name);
             it != std::sregex_iterator(); ++it)
            used.insert(it->str());
    REQUIRE(used.size() >= 5);
    for (const auto& name : used) {
        INFO("the dashboard uses " << name);
        REQUIRE(exported.count(name) == 1);
    }
}
