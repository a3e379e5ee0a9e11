#pragma once
// Known /limit traffic against a live server, and /metrics read back as numbers.

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>

#include "tests/integration/fixture.hpp"

namespace rl::testing {

// Series ("name" or "name{labels}", as written) → value. Comments are skipped.
inline std::map<std::string, double> parse_metrics(const std::string& text) {
    std::map<std::string, double> series;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        const auto space = line.rfind(' ');
        REQUIRE(space != std::string::npos);
        series[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return series;
}

inline std::string fetch_metrics(live_server& server) {
    const auto r = http_request("GET", server.process().admin_url() + "/metrics",
                                {"Authorization: Bearer " + server.process().admin_token()});
    REQUIRE(r.status == 200);
    REQUIRE(r.header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
    return r.body;
}

// What a client saw from /limit, by status.
struct observed_traffic {
    std::map<int, int> statuses;
    int total() const {
        int n = 0;
        for (const auto& [status, count] : statuses) n += count;
        return n;
    }
};

// Admitted and limited requests from one user, 401s of every kind (no key, unknown key, revoked
// key) and a 403 from a disabled user. Counts what came back rather than assuming timing.
inline observed_traffic send_known_traffic(live_server& server) {
    observed_traffic seen;
    auto call = [&](const std::string& key) { ++seen.statuses[server.limit(key).status]; };
    server.create_user("alice", 3);
    const std::string alice = server.create_key("alice");
    for (int i = 0; i < 7; ++i) call(alice);
    for (int i = 0; i < 2; ++i)
        ++seen.statuses[http_request("GET", server.process().public_url() + "/limit").status];
    call("rl_0000000000_unknownunknownunknownunknownunk");
    server.create_user("revoked", 5);
    const std::string revoked = server.create_key("revoked");
    const auto keys = server.admin("GET", "/v1/keys?user=revoked").body.at("keys");
    REQUIRE(
        server.admin("POST", "/v1/keys/" + keys.at(0).at("key_id").get<std::string>() + "/revoke")
            .status == 200);
    call(revoked);
    server.create_user("bob", 5);
    const std::string bob = server.create_key("bob");
    REQUIRE(server.admin("PATCH", "/v1/users/bob", {{"disabled", true}}).status == 200);
    call(bob);
    REQUIRE(seen.statuses[200] >= 3);
    REQUIRE(seen.statuses[429] >= 1);
    REQUIRE(seen.statuses[401] == 4);
    REQUIRE(seen.statuses[403] == 1);
    return seen;
}

// The counters of /metrics equal what the client saw.
inline void require_counters_match(const std::map<std::string, double>& metrics,
                                   observed_traffic& seen) {
    auto value = [&](const std::string& series) {
        INFO(series);
        REQUIRE(metrics.count(series) == 1);
        return metrics.at(series);
    };
    REQUIRE(value("ratelimitd_decisions_total{outcome=\"admitted\"}") == seen.statuses[200]);
    REQUIRE(value("ratelimitd_decisions_total{outcome=\"limited\"}") == seen.statuses[429]);
    REQUIRE(value("ratelimitd_decisions_total{outcome=\"unauthorized\"}") == seen.statuses[401]);
    REQUIRE(value("ratelimitd_decisions_total{outcome=\"forbidden\"}") == seen.statuses[403]);
    // No terms in shadow mode here: the series is there, at 0, from the start.
    REQUIRE(value("ratelimitd_decisions_total{outcome=\"shadow_limited\"}") == 0);
    REQUIRE(value("ratelimitd_unauthorized_total{reason=\"missing_key\"}") == 2);
    REQUIRE(value("ratelimitd_unauthorized_total{reason=\"invalid_key\"}") == 2);
    REQUIRE(value("ratelimitd_request_duration_seconds_count") == seen.total());
    REQUIRE(value("ratelimitd_request_duration_seconds_bucket{le=\"+Inf\"}") == seen.total());
    REQUIRE(value("ratelimitd_users") == 3);
    REQUIRE(value("ratelimitd_keys_loaded") == 2);
    REQUIRE(value("ratelimitd_ready") == 1);
}

}  // namespace rl::testing
