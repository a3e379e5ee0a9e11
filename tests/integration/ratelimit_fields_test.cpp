// RateLimit-Policy and RateLimit as a client library reads them: parsed by an RFC 8941
// (Structured Field Values) parser, npm's structured-headers (tests/sf), and checked against
// draft-ietf-httpapi-ratelimit-headers-11: each field a List of Items, an Item's value the
// policy's name (a String), with q and w on the policy, r and t on the limit (Integers).

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "tests/integration/fixture.hpp"
#include "tests/support/skip_main.hpp"

using nlohmann::json;
using rl::testing::live_server;

namespace {

const std::string parser_dir = std::string(RL_SOURCE_DIR) + "/tests/sf";

// Both fields of a reply, parsed.
json parse(const rl::testing::http_response& reply) {
    const auto parsed = rl::testing::run_command(
        {rl::testing::find_program("node"), parser_dir + "/parse_fields.mjs",
         reply.header("ratelimit-policy"), reply.header("ratelimit")});
    INFO("RateLimit-Policy: " << reply.header("ratelimit-policy"));
    INFO("RateLimit: " << reply.header("ratelimit"));
    INFO(parsed.err);
    REQUIRE(parsed.exit_code == 0);
    return json::parse(parsed.out);
}

// name -> params, and the names in order.
std::map<std::string, json> by_name(const json& items, std::vector<std::string>* order = nullptr) {
    std::map<std::string, json> out;
    for (const auto& item : items) {
        if (order) order->push_back(item.at("name"));
        out[item.at("name")] = item.at("params");
    }
    return out;
}

}  // namespace

std::string rl::testing::skip_reason() {
    if (find_program("node").empty()) return "no node: the RFC 8941 parser runs on Node.js";
    if (!std::filesystem::exists(parser_dir + "/node_modules/structured-headers"))
        return "tests/sf/node_modules has no structured-headers: scripts/install-deps.sh "
               "installs it with npm ci";
    return {};
}

TEST_CASE("a three-limit plan's fields parse, name every limit and count down") {
    live_server server;
    REQUIRE(server
                .admin("POST", "/v1/plans",
                       {{"name", "pro"}, {"limits", {"1s:3", "1m:300", "day:10000"}}})
                .status == 201);
    REQUIRE(server.admin("POST", "/v1/users", {{"name", "p"}, {"plan", "pro"}}).status == 201);
    const std::string key = server.create_key("p");

    const auto first = parse(server.limit(key));
    std::vector<std::string> policy_order;
    const auto policy = by_name(first.at("policy"), &policy_order);
    CHECK(policy_order == std::vector<std::string>{"1s", "1m", "day"});
    CHECK(policy.at("1s") == json({{"q", 3}, {"w", 1}}));
    CHECK(policy.at("1m") == json({{"q", 300}, {"w", 60}}));
    CHECK(policy.at("day") == json({{"q", 10000}, {"w", 86400}}));
    std::vector<std::string> order;
    const auto limits = by_name(first.at("ratelimit"), &order);
    CHECK(limits.size() == 3);
    CHECK(order.front() == "1s");  // closest to exhaustion first: 2 of 3 left
    CHECK(limits.at("1s").at("r") == 2);
    CHECK(limits.at("1m").at("r") == 299);
    CHECK(limits.at("day").at("r") == 9999);
    for (const auto& [name, params] : limits) {
        CHECK(params.at("t").is_number_integer());
        CHECK(params.at("t") >= 0);
    }

    server.limit(key);
    server.limit(key);
    const auto refused = server.limit(key);
    if (refused.status != 429) {
        WARN("the burst took over a second; the window slid");
        return;
    }
    const auto last = parse(refused);
    const auto after = by_name(last.at("ratelimit"));
    CHECK(after.at("1s").at("r") == 0);
    CHECK(after.at("1s").at("t") >= 1);
    CHECK(after.at("day").at("r") == 9997);
    CHECK(std::stoi(refused.header("retry-after")) >= 1);
    CHECK(json::parse(refused.body).at("violated-policies") == json::array({"1s"}));
}

TEST_CASE("the single default limit keeps its field names and still parses") {
    live_server server({"--default-limit", "4"});
    server.create_user("d");
    const auto parsed = parse(server.limit(server.create_key("d")));
    const auto policy = by_name(parsed.at("policy"));
    REQUIRE(policy.size() == 1);
    CHECK(policy.at("default") == json({{"q", 4}, {"w", 1}}));
    CHECK(by_name(parsed.at("ratelimit")).at("default").at("r") == 3);
}
