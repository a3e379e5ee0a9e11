// promtool (Debian's prometheus package) checks a live /metrics after known traffic: the text
// parses, passes its lint rules, and the counters equal the traffic.

#include <catch2/catch.hpp>

#include "tests/integration/metrics_support.hpp"

TEST_CASE("promtool check metrics passes on live /metrics, counters equal the traffic") {
    rl::testing::live_server server;
    auto seen = rl::testing::send_known_traffic(server);
    const std::string text = rl::testing::fetch_metrics(server);
    const auto checked = rl::testing::run_command(
        {rl::testing::find_program("promtool"), "check", "metrics"}, {}, text);
    INFO("promtool said: " << checked.out << checked.err);
    REQUIRE(checked.exit_code == 0);
    REQUIRE(checked.out.empty());
    REQUIRE(checked.err.empty());
    rl::testing::require_counters_match(rl::testing::parse_metrics(text), seen);
}
