// Requests pipelined behind one that ends the connection (RFC 9112 9.6): the server answers up to
// that request, closes, and neither decides nor counts what came after it. Every count equals
// what the client received.

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <thread>

#include "tests/integration/metrics_support.hpp"
#include "tests/support/raw_connection.hpp"

using namespace std::chrono_literals;
using rl::testing::live_server;
using rl::testing::raw_connection;

namespace {

std::string request(const std::string& version, const std::string& key,
                    const std::string& connection = {}) {
    return fmt::format("GET /limit {}\r\nHost: t\r\nX-API-KEY: {}\r\n{}\r\n", version, key,
                       connection.empty() ? "" : "Connection: " + connection + "\r\n");
}

struct outcome {
    std::vector<int> statuses;
    bool closed = false;
};

// Sends the whole pipeline in one write; collects what comes back within a few seconds.
outcome exchange(live_server& server, const std::string& pipeline, std::size_t at_most) {
    raw_connection c(server.process().public_port());
    REQUIRE(c.send_all(pipeline));
    outcome seen;
    for (const auto& r : c.read_responses(at_most, 3s)) seen.statuses.push_back(r.status);
    seen.closed = c.closed_within(1s);
    return seen;
}

double admitted_in_usage(live_server& server, const std::string& user) {
    const auto usage = server.admin("GET", "/v1/usage?user=" + user + "&since=5m");
    REQUIRE(usage.status == 200);
    return usage.body.at("total").at("allowed").get<double>();
}

double admitted_in_metrics(live_server& server) {
    return rl::testing::parse_metrics(
        rl::testing::fetch_metrics(server))["ratelimitd_decisions_total{outcome=\"admitted\"}"];
}

struct framing_case {
    const char* name;
    std::string (*pipeline)(const std::string& key);
    std::size_t answered;
    bool closed;
};

}  // namespace

TEST_CASE("a request pipelined behind the connection's last one is neither answered nor counted") {
    const framing_case cases[] = {
        {"HTTP/1.1 Connection: close",
         [](const std::string& k) {
             return request("HTTP/1.1", k, "close") + request("HTTP/1.1", k);
         },
         1, true},
        {"HTTP/1.0 without keep-alive",
         [](const std::string& k) { return request("HTTP/1.0", k) + request("HTTP/1.0", k); }, 1,
         true},
        {"HTTP/1.0 Connection: keep-alive",
         [](const std::string& k) {
             return request("HTTP/1.0", k, "keep-alive") + request("HTTP/1.0", k, "keep-alive");
         },
         2, false},
        {"HTTP/1.1, then Connection: close, then one more",
         [](const std::string& k) {
             return request("HTTP/1.1", k) + request("HTTP/1.1", k, "close") +
                    request("HTTP/1.1", k);
         },
         2, true},
    };
    live_server server;
    double admitted = 0;
    int user = 0;
    for (const auto& c : cases) {
        INFO(c.name);
        const std::string name = "framing" + std::to_string(++user);
        server.create_user(name, 100);
        const auto key = server.create_key(name);
        const outcome seen = exchange(server, c.pipeline(key), 3);
        REQUIRE(seen.statuses == std::vector<int>(c.answered, 200));
        REQUIRE(seen.closed == c.closed);
        admitted += static_cast<double>(c.answered);
        // A request wrongly taken from behind the close would be decided by now.
        std::this_thread::sleep_for(200ms);
        REQUIRE(admitted_in_usage(server, name) == static_cast<double>(c.answered));
        REQUIRE(admitted_in_metrics(server) == admitted);
    }
}

TEST_CASE("a 429 behind Connection: close is answered, counted once, and nothing after it") {
    live_server server;
    server.create_user("one", 1);
    const auto key = server.create_key("one");
    REQUIRE(server.limit(key).status == 200);
    const outcome seen =
        exchange(server, request("HTTP/1.1", key, "close") + request("HTTP/1.1", key), 2);
    REQUIRE(seen.statuses == std::vector<int>{429});
    REQUIRE(seen.closed);
    std::this_thread::sleep_for(200ms);
    const auto usage = server.admin("GET", "/v1/usage?user=one&since=5m");
    REQUIRE(usage.body.at("total").at("allowed").get<double>() == 1);
    REQUIRE(usage.body.at("total").at("rejected").get<double>() == 1);
    const auto metrics = rl::testing::parse_metrics(rl::testing::fetch_metrics(server));
    REQUIRE(metrics.at("ratelimitd_decisions_total{outcome=\"limited\"}") == 1);
}

// The public socket waits for epoll after any read that leaves its buffer short
// (service/ready_socket.hpp): whatever arrives after such a read must still be read, whether it
// is the next request on a keep-alive connection, the rest of one sent in pieces, or more than
// one read's buffer (4 KiB) holds. A byte left unseen would leave its request unanswered.
TEST_CASE("a keep-alive connection's requests are read whole, in pieces and past the read buffer") {
    for (const char* threads : {"1", "2"}) {
        INFO("--threads " << threads);
        live_server server({"--threads", threads});
        server.create_user("pieces", 1000);
        const auto key = server.create_key("pieces");
        raw_connection c(server.process().public_port());
        const auto answered = [&c] {
            const auto replies = c.read_responses(1, 5s);
            return replies.size() == 1 && replies.front().status == 200;
        };
        for (int i = 0; i < 20; ++i) {
            REQUIRE(c.send_all(request("HTTP/1.1", key)));
            REQUIRE(answered());
        }
        const std::string whole = request("HTTP/1.1", key);
        for (std::size_t cut : {1UL, 5UL, 16UL, whole.size() - 2}) {
            INFO("cut at " << cut);
            REQUIRE(c.send_all(whole.substr(0, cut)));
            std::this_thread::sleep_for(30ms);  // the server reads the first piece alone
            REQUIRE(c.send_all(whole.substr(cut)));
            REQUIRE(answered());
        }
        std::string large = fmt::format("GET /limit HTTP/1.1\r\nHost: t\r\nX-API-KEY: {}\r\n", key);
        for (int i = 0; i < 3; ++i)
            large += fmt::format("X-Filler-{}: {}\r\n", i, std::string(4000, 'f'));
        large += "\r\n";
        REQUIRE(c.send_all(large));
        REQUIRE(answered());
        REQUIRE(c.send_all(request("HTTP/1.1", key) + request("HTTP/1.1", key)));
        const auto both = c.read_responses(2, 5s);
        REQUIRE(both.size() == 2);
        REQUIRE(both.back().status == 200);
        REQUIRE(admitted_in_usage(server, "pieces") == 20 + 4 + 1 + 2);
    }
}
