// GET /metrics on a live server: counters equal the traffic sent, and the Grafana dashboard in
// deploy/ and the documentation use only metrics the server exports.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

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

// Metric name → the label="value" pairs and bare label names of its exported series. Every
// labelled series is exported from the start, at 0 if nothing happened yet.
std::map<std::string, std::set<std::string>> exported_metrics(live_server& server) {
    const std::string text = rl::testing::fetch_metrics(server);
    std::map<std::string, std::set<std::string>> exported;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        // "# TYPE name kind": a histogram's own name has no series of that name.
        if (line.rfind("# TYPE ", 0) == 0) {
            exported[line.substr(7, line.find(' ', 7) - 7)];
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        const std::string series = line.substr(0, line.rfind(' '));
        const auto brace = series.find('{');
        auto& labels = exported[series.substr(0, brace)];
        if (brace == std::string::npos) continue;
        const std::regex pair(R"re(([a-z_]+)="([^"]*)")re");
        const std::string inside = series.substr(brace);
        for (auto it = std::sregex_iterator(inside.begin(), inside.end(), pair);
             it != std::sregex_iterator(); ++it) {
            labels.insert((*it)[1].str());
            labels.insert((*it)[0].str());
        }
    }
    return exported;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
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

TEST_CASE("every metric README.md and docs/*.md name exists, with the labels they give it") {
    std::vector<std::filesystem::path> documents = {RL_SOURCE_DIR "/README.md"};
    const std::filesystem::path docs = RL_SOURCE_DIR "/docs";
    if (std::filesystem::is_directory(docs))
        for (const auto& entry : std::filesystem::directory_iterator(docs))
            if (entry.path().extension() == ".md") documents.push_back(entry.path());

    live_server server;
    const auto exported = exported_metrics(server);
    // A name, optionally with the labels written after it: {outcome}, {reason="storage_error"}.
    // Not part of a longer word or path (build/ratelimitd_x, my_ratelimitd_x).
    const std::regex mention(R"re((^|[^A-Za-z0-9_/.-])(ratelimitd_[a-z_]+)(\{[^}]*\})?)re");
    const std::regex label(R"re(([a-z_]+)(="[^"]*")?)re");
    int checked = 0;
    for (const auto& document : documents) {
        const std::string text = read_file(document);
        for (auto it = std::sregex_iterator(text.begin(), text.end(), mention);
             it != std::sregex_iterator(); ++it) {
            const std::string name = (*it)[2].str();
            const std::string labels = (*it)[3].str();
            // Exported in cluster mode only; cluster_acceptance_tests reads them.
            if (name.rfind("ratelimitd_cluster_", 0) == 0) continue;
            INFO(document.filename().string() << " names " << name << labels);
            const auto found = exported.find(name);
            REQUIRE(found != exported.end());
            for (auto l = std::sregex_iterator(labels.begin(), labels.end(), label);
                 l != std::sregex_iterator(); ++l)
                REQUIRE(found->second.count(l->str()) == 1);
            ++checked;
        }
    }
    REQUIRE(checked >= 10);
}
