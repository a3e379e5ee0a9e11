// Real HTTP clients against the real server: hey (concurrent keep-alive), h2load --h1
// (pipelined), ab (HTTP/1.0, a connection per request and keep-alive) and python3 requests (one
// session, then Connection: close). Each sends N requests on a user of its own whose one-hour
// limit admits exactly q of them, however long the run takes; what each client itself reports
// must equal q and N - q, and so must the user's usage and the server's decision counters.

#include <catch2/catch.hpp>

#include <regex>
#include <thread>

#include "tests/integration/metrics_support.hpp"
#include "tests/support/skip_main.hpp"

using nlohmann::json;
using rl::testing::live_server;

namespace {

constexpr int requests = 200;

// The first python3 that imports requests: the one on $PATH, else Debian's, which
// python3-requests is installed for; "" when neither does.
std::string python_with_requests() {
    for (const std::string& python :
         {rl::testing::find_program("python3"), std::string("/usr/bin/python3")}) {
        if (python.empty()) continue;
        if (rl::testing::run_command({python, "-c", "import requests"}).exit_code == 0)
            return python;
    }
    return {};
}

// What a client counted: admitted is its 200s (2xx for h2load and ab), limited its 429s (4xx for
// h2load, non-2xx for ab; the usage and the counters then tell them apart).
struct received {
    int admitted = 0;
    int limited = 0;
};

// The whole number right after, or right before, `label` (a regular expression) in `out`; a
// REQUIRE fails when there is none.
int count_after(const std::string& out, const std::string& label) {
    std::smatch m;
    INFO("no number after \"" << label << "\"");
    REQUIRE(std::regex_search(out, m, std::regex(label + R"(\s*(\d+))")));
    return std::stoi(m[1]);
}
int count_before(const std::string& out, const std::string& label) {
    std::smatch m;
    INFO("no number before \"" << label << "\"");
    REQUIRE(std::regex_search(out, m, std::regex(R"((\d+) )" + label)));
    return std::stoi(m[1]);
}

rl::testing::command_result run(const std::vector<std::string>& argv) {
    auto result = rl::testing::run_command(argv);
    INFO(argv.front() << " exited " << result.exit_code << "\n" << result.out << result.err);
    REQUIRE(result.exit_code == 0);
    return result;
}

// hey's "Status code distribution": one "[status] count responses" line each; an "Error
// distribution" follows only when a request got no reply.
received run_hey(const std::string& url, const std::string& key) {
    const auto result = run({rl::testing::find_program("hey"), "-n", std::to_string(requests), "-c",
                             "4", "-t", "20", "-H", "X-API-KEY: " + key, url});
    INFO(result.out);
    REQUIRE(result.out.find("Error distribution") == std::string::npos);
    const auto begin = result.out.find("Status code distribution:");
    REQUIRE(begin != std::string::npos);
    const std::string section = result.out.substr(begin);
    std::map<int, int> statuses;
    const std::regex line(R"(\[(\d+)\]\s+(\d+) responses)");
    for (auto it = std::sregex_iterator(section.begin(), section.end(), line);
         it != std::sregex_iterator(); ++it)
        statuses[std::stoi((*it)[1])] += std::stoi((*it)[2]);
    const received seen{statuses[200], statuses[429]};
    REQUIRE(seen.admitted + seen.limited == requests);
    REQUIRE(statuses.size() == 2);
    return seen;
}

// h2load over HTTP/1.1, 8 requests pipelined on each of 4 connections. It calls a reply
// "succeeded" when its status is 2xx or 3xx and "failed" otherwise (a 429 too); requests that got
// no reply are "errored" or "timeout".
received run_h2load(const std::string& url, const std::string& key) {
    const auto result =
        run({rl::testing::find_program("h2load"), "--h1", "-n", std::to_string(requests), "-c", "4",
             "-m", "8", "-N", "20s", "-H", "X-API-KEY: " + key, url});
    INFO(result.out);
    REQUIRE(count_after(result.out, "requests:") == requests);
    REQUIRE(count_before(result.out, "started,") == requests);
    REQUIRE(count_before(result.out, "done,") == requests);
    REQUIRE(count_before(result.out, "errored,") == 0);
    REQUIRE(count_before(result.out, "timeout") == 0);
    REQUIRE(count_before(result.out, "3xx,") == 0);
    REQUIRE(count_before(result.out, "5xx") == 0);
    const received seen{count_before(result.out, "2xx,"), count_before(result.out, "4xx,")};
    REQUIRE(count_before(result.out, "succeeded,") == seen.admitted);
    REQUIRE(count_before(result.out, "failed,") == seen.limited);
    return seen;
}

// ab speaks HTTP/1.0: a connection per request, or with -k keep-alive. It counts a reply whose
// length differs from the first one's as a failed request (a 429's body is longer than a 200's,
// and a 200's shortens with its remaining count), so only the other kinds of failure must be 0.
received run_ab(const std::string& url, const std::string& key, bool keep_alive) {
    std::vector<std::string> argv = {
        rl::testing::find_program("ab"), "-n", std::to_string(requests), "-c", "4", "-s", "20"};
    if (keep_alive) argv.push_back("-k");
    argv.insert(argv.end(), {"-H", "X-API-KEY: " + key, url});
    const auto result = run(argv);
    INFO(result.out);
    REQUIRE(count_after(result.out, "Complete requests:") == requests);
    REQUIRE(result.out.find("Write errors:") == std::string::npos);
    const int failed = count_after(result.out, "Failed requests:");
    if (failed > 0) {
        REQUIRE(count_after(result.out, R"(\(Connect:)") == 0);
        REQUIRE(count_after(result.out, ", Receive:") == 0);
        REQUIRE(count_after(result.out, ", Exceptions:") == 0);
        REQUIRE(count_after(result.out, ", Length:") == failed);
    }
    if (keep_alive) REQUIRE(count_after(result.out, "Keep-Alive requests:") == requests);
    const int non_2xx = count_after(result.out, "Non-2xx responses:");
    return {requests - non_2xx, non_2xx};
}

// One requests.Session (keep-alive) for all but the last few, which ask for Connection: close.
// Prints the statuses, the replies that lacked a header the server always sends, the closing
// replies without Connection: close, and how many connections urllib3 opened.
const char* const python_client = R"py(
import collections, json, logging, sys
import requests

url, key, n, closing = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

class Opened(logging.Handler):
    count = 0
    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Starting new HTTP connection") or \
           message.startswith("Resetting dropped connection"):
            Opened.count += 1

pool_log = logging.getLogger("urllib3.connectionpool")
pool_log.setLevel(logging.DEBUG)
pool_log.addHandler(Opened())

statuses = collections.Counter()
missing = []
not_closed = 0

def record(i, reply):
    statuses[reply.status_code] += 1
    wanted = ["RateLimit", "RateLimit-Policy"]
    wanted += ["X-RateLimit-User"] if reply.status_code == 200 else ["Retry-After"]
    missing.extend(f"{i}: {name}" for name in wanted if name not in reply.headers)

with requests.Session() as session:
    session.headers["X-API-KEY"] = key
    for i in range(n - closing):
        record(i, session.get(url, timeout=20))
    for i in range(n - closing, n):
        reply = session.get(url, headers={"Connection": "close"}, timeout=20)
        record(i, reply)
        not_closed += reply.headers.get("Connection", "").lower() != "close"

print(json.dumps({"statuses": {str(s): c for s, c in statuses.items()}, "missing": missing,
                  "not_closed": not_closed, "connections": Opened.count}))
)py";

received run_python(const std::string& url, const std::string& key) {
    constexpr int closing = 5;
    const auto result = run({python_with_requests(), "-c", python_client, url, key,
                             std::to_string(requests), std::to_string(closing)});
    INFO(result.out);
    const json seen = json::parse(result.out);
    REQUIRE(seen.at("missing") == json::array());
    REQUIRE(seen.at("not_closed") == 0);
    // The session's one connection until the first close, then a new one for each request after.
    REQUIRE(seen.at("connections") == closing);
    json statuses = seen.at("statuses");
    const received counted{statuses.value("200", 0), statuses.value("429", 0)};
    statuses.erase("200");
    statuses.erase("429");
    REQUIRE(statuses == json::object());
    return counted;
}

// The user's usage of the last 5 minutes. A group commit writes it, so this waits a little (a
// few seconds at most) for the counts expected.
received usage_of(live_server& server, const std::string& user, const received& expected) {
    received usage;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    do {
        const auto r = server.admin("GET", "/v1/usage?user=" + user + "&since=5m");
        REQUIRE(r.status == 200);
        usage = {r.body.at("total").at("allowed").get<int>(),
                 r.body.at("total").at("rejected").get<int>()};
        if (usage.admitted == expected.admitted && usage.limited == expected.limited) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < until);
    return usage;
}

struct client {
    const char* name;
    int quota;  // distinct, so that counts landing on another client's user show
    received (*send)(const std::string& url, const std::string& key);
};

}  // namespace

std::string rl::testing::skip_reason() {
    const std::pair<const char*, const char*> tools[] = {
        {"hey", "hey"}, {"h2load", "nghttp2-client"}, {"ab", "apache2-utils"}};
    for (const auto& [tool, package] : tools)
        if (find_program(tool).empty())
            return std::string(tool) + " is not installed (Debian's " + package +
                   "); scripts/install-deps.sh installs it";
    if (python_with_requests().empty())
        return "no python3 that imports requests (Debian's python3-requests); "
               "scripts/install-deps.sh installs it";
    return {};
}

TEST_CASE("hey, h2load, ab and python3 requests: every count equals what the clients received") {
    const client clients[] = {
        {"hey -c 4", 40, run_hey},
        {"h2load --h1 -c 4 -m 8", 45, run_h2load},
        {"ab -c 4 (HTTP/1.0)", 50,
         [](const std::string& u, const std::string& k) { return run_ab(u, k, false); }},
        {"ab -k -c 4 (HTTP/1.0 keep-alive)", 55,
         [](const std::string& u, const std::string& k) { return run_ab(u, k, true); }},
        {"python3 requests", 60, run_python},
    };
    live_server server;
    const std::string url = server.process().public_url() + "/limit";
    received total;
    int user = 0;
    for (const auto& c : clients) {
        INFO(c.name << ", 1h:" << c.quota);
        const std::string name = "client" + std::to_string(++user);
        const auto created = server.admin(
            "POST", "/v1/users",
            {{"name", name}, {"limits", json::array({"1h:" + std::to_string(c.quota)})}});
        INFO(created.body.dump());
        REQUIRE(created.status == 201);
        const received seen = c.send(url, server.create_key(name));
        CHECK(seen.admitted == c.quota);
        CHECK(seen.limited == requests - c.quota);

        const received usage = usage_of(server, name, seen);
        CHECK(usage.admitted == seen.admitted);
        CHECK(usage.limited == seen.limited);

        total.admitted += seen.admitted;
        total.limited += seen.limited;
        const auto metrics = rl::testing::parse_metrics(rl::testing::fetch_metrics(server));
        CHECK(metrics.at("ratelimitd_decisions_total{outcome=\"admitted\"}") == total.admitted);
        CHECK(metrics.at("ratelimitd_decisions_total{outcome=\"limited\"}") == total.limited);
    }
}
