// Design §6.12: three ratelimitd nodes in cluster mode behind HAProxy, one etcd member, and under
// load through HAProxy a crash, a pause, a partition of one node from etcd, a drain and two
// revocations. Proved from the client's side: no 1-s window held more than a probe user's limit
// (both keys together), unavailability only around the events, revoked keys refused at once on
// every node, and usage summed over the nodes matching what the clients saw. The same scenario
// with fence 0 must show an over-admission: otherwise a green run would prove nothing.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/etcd_client.hpp"
#include "cluster/layout.hpp"
#include "tests/support/admit_log.hpp"
#include "tests/support/cluster_harness.hpp"
#include "tests/support/etcd_member.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/skip_main.hpp"
#include "tests/support/temp_dir.hpp"

std::string rl::testing::skip_reason() {
    for (const char* tool : {"etcd", "haproxy"})
        if (find_program(tool).empty())
            return std::string(tool) + " is not installed; scripts/install-deps.sh installs it";
    for (const auto& binary : {ratelimitd_path(), rlctl_path()})
        if (::access(binary.c_str(), X_OK) != 0) return binary + " is not built";
    return {};
}

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using rl::testing::local_cluster;
using rl::testing::steady;

// --- what the test provisions ---

enum key_kind : std::uint8_t { routed = 0, imported = 1 };
const char* const kind_name[] = {"rl_", "imported"};

struct probe_user {
    std::string name;
    int limit = 0;
    std::uint32_t group = 0;
    std::string home;  // its group's owner when provisioned
    std::string keys[2];
    std::string key_ids[2];
};

struct admin_reply {
    int status = 0;
    json body;
};

admin_reply admin(local_cluster& cluster, const std::string& method, const std::string& path,
                  const json& body = nullptr) {
    const auto r = rl::testing::http_request(
        method, cluster.admin_url() + path,
        {std::string("Authorization: Bearer ") + local_cluster::admin_token,
         "Content-Type: application/json"},
        body.is_null() ? std::string() : body.dump());
    return {r.status, json::parse(r.body, nullptr, false)};
}

std::string random_hex(std::size_t n) {
    static std::mt19937_64 random{std::random_device{}()};
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += "0123456789abcdef"[random() % 16];
    return out;
}

// `per_node` users owned by each node, limits taken in turn from `limits`, each with an rl_ key
// and an imported one. Names are tried in order until each node has its share.
std::vector<probe_user> provision_probes(local_cluster& cluster, const std::string& prefix,
                                         int per_node, const std::vector<int>& limits) {
    const auto owners = cluster.owners().owners_now();
    std::map<std::string, int> count;
    std::vector<probe_user> users;
    const std::size_t wanted = static_cast<std::size_t>(per_node) * cluster.nodes().size();
    for (int i = 0; users.size() < wanted && i < 100000; ++i) {
        probe_user u;
        u.name = prefix + std::to_string(i);
        u.group = rl::cluster::layout::group_of_user(u.name, cluster.groups());
        u.home = owners.at(u.group);
        if (u.home.empty() || count[u.home] >= per_node) continue;
        u.limit = limits[static_cast<std::size_t>(count[u.home]++) % limits.size()];
        users.push_back(std::move(u));
    }
    REQUIRE(users.size() == wanted);
    for (auto& u : users) {
        INFO("provisioning " << u.name);
        auto r = admin(cluster, "POST", "/v1/users", {{"name", u.name}, {"limit", u.limit}});
        INFO(r.body.dump());
        REQUIRE(r.status == 201);
        r = admin(cluster, "POST", "/v1/keys", {{"user", u.name}});
        REQUIRE(r.status == 201);
        u.keys[routed] = r.body.at("key");
        u.key_ids[routed] = r.body.at("key_id");
        u.keys[imported] = "ext-" + random_hex(32);
        r = admin(cluster, "POST", "/v1/keys/import",
                  {{"user", u.name}, {"key", u.keys[imported]}});
        REQUIRE(r.status == 201);
        u.key_ids[imported] = r.body.at("key_id");
    }
    return users;
}

// Background users with imported keys, in one bulk import; returns the keys.
std::vector<std::string> provision_background(local_cluster& cluster, int n) {
    json rows = json::array();
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
        keys.push_back("bg-" + random_hex(32));
        rows.push_back({{"user", "bg" + std::to_string(i)}, {"key", keys.back()}, {"limit", 100}});
    }
    const auto r = admin(cluster, "POST", "/v1/import", {{"rows", rows}});
    INFO(r.body.dump());
    REQUIRE(r.status == 200);
    REQUIRE(r.body.at("errors").empty());
    return keys;
}

// Every probe user's keys answer through HAProxy (the catalog reached the owners).
void wait_probes_answered(local_cluster& cluster, const std::vector<probe_user>& users) {
    rl::testing::probe_connection connection;
    for (const auto& u : users)
        for (int k : {routed, imported}) {
            const auto deadline = steady::now() + 10s;
            rl::testing::probe_connection::answer a;
            while (steady::now() < deadline) {
                a = connection.get(cluster.balancer().url() + "/limit", u.keys[k]);
                if (a.status == 200 || a.status == 429) break;
                std::this_thread::sleep_for(50ms);
            }
            INFO(u.name << "'s " << kind_name[k] << " key through HAProxy: " << a.status << " "
                        << a.reason);
            REQUIRE((a.status == 200 || a.status == 429));
        }
}

// --- load ---

struct request_record {
    steady::time_point sent, answered;
    int status = 0;
    std::string reason;
    std::uint16_t user = 0;
    std::uint8_t key = routed;
};

struct load_shape {
    int connections = 2;        // per probe user
    int connections_large = 3;  // per probe user with a limit of 50
    std::chrono::milliseconds period{40};
    int background_connections = 2;
    std::chrono::milliseconds background_period{10};
};

// Keep-alive clients through HAProxy: per probe user a few connections, each sending on both
// keys in turn at a steady pace and recording every answer; background clients walk the
// background keys and only count.
class load_run {
public:
    load_run(const std::string& url, const std::vector<probe_user>& users,
             const std::vector<std::string>& background, const load_shape& shape)
        : started_(steady::now()) {
        for (std::size_t u = 0; u < users.size(); ++u) {
            const int n = users[u].limit >= 50 ? shape.connections_large : shape.connections;
            for (int c = 0; c < n; ++c) {
                logs_.emplace_back();
                threads_.emplace_back(
                    [this, &user = users[u], url, u, c, shape, log = &logs_.back()] {
                        rl::testing::probe_connection connection;
                        auto next = steady::now();
                        for (std::size_t i = static_cast<std::size_t>(c); !stop_.load(); ++i) {
                            request_record r;
                            r.user = static_cast<std::uint16_t>(u);
                            r.key = static_cast<std::uint8_t>(i % 2);
                            r.sent = steady::now();
                            const auto a = connection.get(url + "/limit", user.keys[r.key]);
                            r.answered = steady::now();
                            r.status = a.status;
                            r.reason = a.reason;
                            next = std::max(next + shape.period, r.answered);
                            log->push_back(std::move(r));
                            std::this_thread::sleep_until(next);
                        }
                    });
            }
        }
        for (int c = 0; c < shape.background_connections && !background.empty(); ++c)
            threads_.emplace_back([this, url, &background, c, shape] {
                rl::testing::probe_connection connection;
                for (std::size_t i = static_cast<std::size_t>(c); !stop_.load(); ++i) {
                    const auto a =
                        connection.get(url + "/limit", background[i % background.size()]);
                    ++background_answers_[a.status == 200 ? 0 : a.status == 429 ? 1 : 2];
                    std::this_thread::sleep_for(shape.background_period);
                }
            });
    }
    ~load_run() { stop(); }

    steady::time_point started() const noexcept { return started_; }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    // After stop(): every probe request, in no particular order.
    std::vector<request_record> records() const {
        std::vector<request_record> all;
        for (const auto& log : logs_) all.insert(all.end(), log.begin(), log.end());
        return all;
    }
    std::string background_summary() const {
        return std::to_string(background_answers_[0]) + " admitted, " +
               std::to_string(background_answers_[1]) + " limited, " +
               std::to_string(background_answers_[2]) + " other";
    }

private:
    steady::time_point started_;
    std::atomic<bool> stop_{false};
    std::list<std::vector<request_record>> logs_;  // one per thread; a list keeps them in place
    std::atomic<std::int64_t> background_answers_[3] = {};
    std::vector<std::thread> threads_;
};

// --- the scenario's events ---

struct event {
    std::string what;  // kill, restart, pause, resume, cut, restore, drain, drained, undrain
    std::string node;
    steady::time_point at;
};

class scenario {
public:
    scenario(local_cluster& cluster, steady::time_point t0) : cluster_(cluster), t0_(t0) {}

    void at(std::chrono::milliseconds offset) { std::this_thread::sleep_until(t0_ + offset); }
    double since_start(steady::time_point t) const {
        return std::chrono::duration<double>(t - t0_).count();
    }

    // One step, noted with the time it began.
    template <typename Action>
    void step(const std::string& what, const std::string& node, Action action) {
        note(what, node);
        action();
    }
    void restart(const std::string& id) {
        step("restart", id, [&] { cluster_.node(id).start(); });
        note("ready", id);
    }
    ~scenario() { wait_drained(); }
    // rlctl cluster drain, then on a thread of its own until etcd shows the node owning nothing
    // (at most 60 s). --no-wait: the waiting form holds a thread of the node that answers it
    // for the whole drain, and with --threads 1 that node serves nothing meanwhile.
    void drain(const std::string& id) {
        note("drain", id);
        drain_result_ = cluster_.rlctl({"cluster", "drain", id, "--no-wait"}, id);
        drain_ = std::thread([this, id] {
            const auto deadline = steady::now() + 60s;
            while (steady::now() < deadline) {
                const auto owners = cluster_.owners().owners_now();
                if (std::find(owners.begin(), owners.end(), id) == owners.end()) break;
                std::this_thread::sleep_for(50ms);
            }
            note("drained", id);
        });
    }
    void wait_drained() {
        if (drain_.joinable()) drain_.join();
    }
    void undrain(const std::string& id) {
        note("undrain", id);
        const auto r = cluster_.rlctl({"cluster", "undrain", id}, id);
        INFO("rlctl cluster undrain " << id << ": " << r.out << r.err);
        REQUIRE(r.exit_code == 0);
    }
    const rl::testing::command_result& drain_result() const { return drain_result_; }

    std::vector<event> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    std::optional<steady::time_point> first(const std::string& what) const {
        for (const auto& e : events())
            if (e.what == what) return e.at;
        return std::nullopt;
    }

private:
    void note(const std::string& what, const std::string& node) {
        const auto now = steady::now();
        std::printf("acceptance: t=%6.2f s %s %s\n", since_start(now), what.c_str(), node.c_str());
        std::fflush(stdout);
        std::lock_guard lock(mutex_);
        events_.push_back({what, node, now});
    }

    local_cluster& cluster_;
    steady::time_point t0_;
    mutable std::mutex mutex_;
    std::vector<event> events_;
    rl::testing::command_result drain_result_;
    std::thread drain_;
};

// --- exactness ---

std::vector<rl::testing::timed_admit> admits_of(const std::vector<request_record>& records,
                                                std::size_t user, steady::time_point from,
                                                steady::time_point to) {
    std::vector<rl::testing::timed_admit> admits;
    for (const auto& r : records)
        if (r.user == user && r.status == 200 && r.sent >= from && r.sent <= to)
            admits.push_back({r.sent, r.answered});
    return admits;
}

std::size_t excess_of(const std::vector<request_record>& records, const probe_user& u,
                      std::size_t index, steady::time_point from = steady::time_point::min(),
                      steady::time_point to = steady::time_point::max()) {
    auto admits = admits_of(records, index, from, to);
    return rl::testing::proven_excess(admits, static_cast<std::size_t>(u.limit));
}

// The nodes' access logs (one machine clock), per user: each admit as an interval that holds
// its decision, from the log line's time less its latency to the log line's time (a ms either
// side for the rounding).
struct logged_admits {
    std::vector<rl::testing::timed_admit> admits;
    std::vector<std::string> described;  // per admit: "log ms (mod 100 s) latency ms node"
};

// The first run of limit + 1 admits within one second, described.
std::string first_proven_run(const logged_admits& user, std::size_t limit) {
    std::vector<std::size_t> order(user.admits.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return user.admits[a].sent < user.admits[b].sent;
    });
    for (std::size_t i = 0; i + limit < order.size(); ++i) {
        auto last = user.admits[order[i]].answered;
        for (std::size_t j = i; j <= i + limit; ++j)
            last = std::max(last, user.admits[order[j]].answered);
        if (last - user.admits[order[i]].sent >= std::chrono::seconds(1)) continue;
        std::string out;
        for (std::size_t j = i; j <= i + limit; ++j) out += "\n  " + user.described[order[j]];
        return out;
    }
    return " none";
}

std::map<std::string, logged_admits> admits_in_access_logs(local_cluster& cluster) {
    std::map<std::string, logged_admits> out;
    for (auto& node : cluster.nodes()) {
        std::ifstream in(node->access_log_path());
        for (std::string line; std::getline(in, line);) {
            const auto entry = json::parse(line, nullptr, false);
            if (!entry.is_object() || entry.value("status", 0) != 200 || !entry["user"].is_string())
                continue;
            std::tm tm{};
            int ms = 0;
            const std::string text = entry.value("time", "");
            if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
                continue;
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            const std::int64_t logged = static_cast<std::int64_t>(::timegm(&tm)) * 1000 + ms;
            const std::int64_t latency_ms = entry.value("latency_us", std::int64_t{0}) / 1000 + 1;
            auto& user = out[entry["user"].get<std::string>()];
            user.admits.push_back(
                {steady::time_point(std::chrono::milliseconds(logged - latency_ms - 1)),
                 steady::time_point(std::chrono::milliseconds(logged + 1))});
            user.described.push_back(std::to_string(logged % 100000) + " latency " +
                                     std::to_string(latency_ms - 1) + " ms " + node->id());
        }
    }
    return out;
}

// --- availability ---

// One revocation by rlctl: when the call began and when it returned.
struct revocation_call {
    steady::time_point began, returned;
};

struct outage_window {
    std::string node;
    steady::time_point from, to;
};

// The node events that excuse failed answers, as §6.12 bounds them.
std::vector<outage_window> disruptions(const scenario& s) {
    std::vector<outage_window> out;
    std::map<std::string, steady::time_point> open;
    for (const auto& e : s.events()) {
        if (e.what == "kill") out.push_back({e.node, e.at, e.at + 4500ms});
        if (e.what == "pause" || e.what == "cut") open[e.node] = e.at;
        if ((e.what == "resume" || e.what == "restore") && open.count(e.node))
            out.push_back({e.node, open[e.node], std::max(open[e.node] + 4s, e.at + 2s)});
    }
    return out;
}

bool overlaps(const request_record& r, steady::time_point from, steady::time_point to) {
    return r.sent <= to && r.answered >= from;
}

bool good_answer(int status) {
    return status == 200 || status == 429;
}

struct availability_report {
    std::vector<std::string> unexcused;            // described: the first few of each kind
    std::map<std::string, int> unexcused_by_kind;  // "imported 503 not-owner" → count
    std::map<std::string, int> failures_by_status;
    double longest_outage_s = 0;
    std::string longest_outage;
};

availability_report check_availability(const std::vector<request_record>& records,
                                       const std::vector<probe_user>& users, local_cluster& cluster,
                                       const scenario& s,
                                       const std::map<std::size_t, revocation_call>& revoked) {
    availability_report report;
    const auto windows = disruptions(s);
    std::vector<std::vector<rl::testing::owner_timeline::change>> changes(cluster.groups());
    for (std::uint32_t g = 0; g < cluster.groups(); ++g) changes[g] = cluster.owners().changes(g);
    std::map<std::uint32_t, std::vector<const request_record*>> by_group;
    for (const auto& r : records) {
        const auto& u = users[r.user];
        const auto key_index = r.user * 2 + r.key;
        const auto revoked_at = revoked.find(key_index);
        // Refused once the revocation may have applied: expected, not a failure.
        if (revoked_at != revoked.end() && r.answered >= revoked_at->second.began) continue;
        by_group[u.group].push_back(&r);
        if (good_answer(r.status)) continue;
        ++report.failures_by_status[std::to_string(r.status) +
                                    (r.reason.empty() ? "" : " " + r.reason)];
        bool excused = false;
        // Around a move [move - 2 s, move + 2 s]; and a group fenced by its owner is excused
        // when a move follows within 5 s: a release (O2) deletes the owner key F after it stops
        // admitting, and one interrupted by a lost lease (a cut or pause mid-release) only at
        // the lease's expiry. Meanwhile HAProxy's checks find no owner up and send the group's
        // requests to the unchecked backups, which answer not-owner (the owner answers fenced).
        const bool fenced_first = r.status == 503 && (r.reason == "fenced" ||
                                                      r.reason == "not-owner" || r.reason.empty());
        for (const auto& c : changes[u.group])
            excused = excused || overlaps(r, c.at - 2s, c.at + 2s) ||
                      (fenced_first && overlaps(r, c.at - 5s, c.at));
        const std::string owner_then = cluster.owners().owner_at(u.group, r.sent);
        for (const auto& w : windows)
            excused = excused ||
                      (overlaps(r, w.from, w.to) && (w.node == owner_then || r.key == imported));
        if (!excused)
            ++report.unexcused_by_kind[std::string(kind_name[r.key]) + " " +
                                       std::to_string(r.status) +
                                       (r.reason.empty() ? "" : " " + r.reason)];
        if (!excused && report.unexcused_by_kind[std::string(kind_name[r.key]) + " " +
                                                 std::to_string(r.status) +
                                                 (r.reason.empty() ? "" : " " + r.reason)] <= 4) {
            char line[300];
            std::snprintf(line, sizeof line,
                          "t=%.3f..%.3f s %s %s key of %s (group %u, owner %s): %d %s",
                          s.since_start(r.sent), s.since_start(r.answered),
                          r.status == 503 ? "503" : "failed", kind_name[r.key], u.name.c_str(),
                          u.group, owner_then.c_str(), r.status, r.reason.c_str());
            report.unexcused.emplace_back(line);
        }
    }
    // The longest time a group's users got no answer but 200 or 429.
    for (auto& [group, list] : by_group) {
        std::sort(list.begin(), list.end(), [](const request_record* a, const request_record* b) {
            return a->sent < b->sent;
        });
        std::optional<steady::time_point> last_good;
        std::optional<steady::time_point> first_bad;
        for (const auto* r : list) {
            if (good_answer(r->status)) {
                if (first_bad) {
                    const double gap =
                        std::chrono::duration<double>(r->answered - *first_bad).count();
                    if (gap > report.longest_outage_s) {
                        report.longest_outage_s = gap;
                        char line[160];
                        std::snprintf(line, sizeof line, "group %u from t=%.2f s to t=%.2f s",
                                      group, s.since_start(*first_bad), s.since_start(r->answered));
                        report.longest_outage = line;
                    }
                }
                first_bad.reset();
                last_good = r->answered;
            } else if (!first_bad) {
                first_bad = r->sent;
            }
        }
    }
    return report;
}

// Per-event summary of failed answers: how many, and how long after the event the last one.
void print_unavailability(const std::vector<request_record>& records,
                          const std::vector<probe_user>& users, local_cluster& cluster,
                          const scenario& s) {
    for (const auto& e : s.events()) {
        if (e.what != "kill" && e.what != "pause" && e.what != "cut" && e.what != "drain") continue;
        int failed = 0;
        double last = 0;
        const auto horizon = e.at + (e.what == "drain" ? 40s : 10s);
        for (const auto& r : records) {
            if (good_answer(r.status) || r.sent < e.at || r.sent > horizon) continue;
            // Only the users of the node the event was about, as their group stood before it.
            if (cluster.owners().owner_at(users[r.user].group, e.at - 100ms) != e.node) continue;
            ++failed;
            last = std::max(last, std::chrono::duration<double>(r.answered - e.at).count());
        }
        std::printf("acceptance: after %s %s: %d failed answers, the last %.2f s after it\n",
                    e.what.c_str(), e.node.c_str(), failed, last);
    }
}

// --- revocation ---

struct revocation_report {
    std::vector<double> call_ms;
    std::map<std::size_t, revocation_call> revoked;  // user * 2 + key
    int sent = 0;
    std::vector<std::string> not_refused;
};

// Revokes `key` of `user` with rlctl against a node other than `avoid`, timing the call.
revocation_call revoke(local_cluster& cluster, const std::string& key_id, const std::string& avoid,
                       revocation_report& report) {
    const auto began = steady::now();
    const auto r = cluster.rlctl({"key", "revoke", key_id}, avoid);
    const auto returned = steady::now();
    INFO("rlctl key revoke " << key_id << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    report.call_ms.push_back(std::chrono::duration<double, std::milli>(returned - began).count());
    return {began, returned};
}

// From now, for `span`, every `every`: each key to each node directly and through HAProxy.
void hammer_revoked(local_cluster& cluster, const std::vector<std::string>& keys,
                    std::chrono::milliseconds span, std::chrono::milliseconds every,
                    revocation_report& report) {
    std::vector<std::string> targets;
    for (auto& n : cluster.nodes()) targets.push_back(n->public_url());
    targets.push_back(cluster.balancer().url());
    std::vector<std::unique_ptr<rl::testing::probe_connection>> connections;
    for (std::size_t i = 0; i < targets.size(); ++i)
        connections.push_back(std::make_unique<rl::testing::probe_connection>());
    const auto began = steady::now();
    for (auto next = began; next < began + span; next += every) {
        std::this_thread::sleep_until(next);
        for (std::size_t t = 0; t < targets.size(); ++t)
            for (const auto& key : keys) {
                const auto a = connections[t]->get(targets[t] + "/limit", key);
                ++report.sent;
                if (a.status != 401 && report.not_refused.size() < 20)
                    report.not_refused.push_back(targets[t] + ": " + std::to_string(a.status) +
                                                 " " + a.reason);
            }
    }
}

// --- usage ---

std::int64_t allowed_total(const json& usage) {
    return usage.at("total").at("allowed").get<std::int64_t>();
}

std::string node_with_most_probes(const std::vector<probe_user>& users, local_cluster& cluster) {
    std::map<std::string, int> count;
    for (const auto& u : users) ++count[u.home];
    const auto owners = cluster.owners().owners_now();
    std::string best;
    for (auto& n : cluster.nodes()) {
        const auto groups = std::count(owners.begin(), owners.end(), n->id());
        const auto best_groups = std::count(owners.begin(), owners.end(), best);
        if (best.empty() || count[n->id()] > count[best] ||
            (count[n->id()] == count[best] && groups > best_groups))
            best = n->id();
    }
    return best;
}

void print_distribution(local_cluster& cluster) {
    std::map<std::string, int> owned;
    for (const auto& o : cluster.owners().owners_now()) ++owned[o];
    std::string text;
    for (const auto& [node, n] : owned) text += " " + node + "=" + std::to_string(n);
    std::printf("acceptance: groups owned:%s\n", text.c_str());
    std::fflush(stdout);
}

}  // namespace

TEST_CASE("the etcd path through the TCP HAProxy cuts open streams and new connections") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    rl::testing::etcd_path path(dir.path(), etcd.client_port());
    rl::cluster::etcd_options options;
    options.endpoints = {path.url()};
    options.request_timeout = 1s;
    rl::cluster::etcd_client client(options);
    REQUIRE(client.put("/t/a", "1"));
    std::atomic<int> errors{0};
    rl::cluster::watch_handler handler;
    handler.on_update = [](const rl::cluster::watch_update&) {};
    handler.on_error = [&](const rl::cluster::etcd_error&) { ++errors; };
    const auto watch = client.watch_prefix("/t/", 0, handler);
    std::this_thread::sleep_for(300ms);
    path.cut();
    CHECK_FALSE(client.get("/t/a"));
    const auto deadline = steady::now() + 5s;
    while (errors == 0 && steady::now() < deadline) std::this_thread::sleep_for(20ms);
    CHECK(errors > 0);  // the open watch stream was shut down too
    path.restore();
    CHECK(client.get("/t/a"));
}

TEST_CASE(
    "3 nodes under load: crash, pause, partition, drain, revocation; no window over a limit") {
    rl::testing::temp_dir dir;
    local_cluster cluster(dir.path(), {});
    print_distribution(cluster);
    auto users = provision_probes(cluster, "probe", 10, {5, 10, 50});
    const auto background = provision_background(cluster, 200);
    std::vector<std::pair<std::string, std::string>> spare_keys;  // key, key id
    REQUIRE(admin(cluster, "POST", "/v1/users", {{"name", "spare"}}).status == 201);
    for (int i = 0; i < 4; ++i) {
        const auto r = admin(cluster, "POST", "/v1/keys", {{"user", "spare"}});
        REQUIRE(r.status == 201);
        spare_keys.emplace_back(r.body.at("key"), r.body.at("key_id"));
    }
    wait_probes_answered(cluster, users);

    const std::string killed = node_with_most_probes(users, cluster);
    const std::string paused = killed == "rl2" ? "rl1" : "rl2";
    const std::string isolated = cluster.nodes().back()->id();  // behind the etcd path
    const std::string drained = "rl1";

    load_run load(cluster.balancer().url(), users, background, {});
    scenario s(cluster, load.started());
    std::printf("acceptance: t=0 is %lld ms (mod 100 s) on the wall clock\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count() %
                                       100000));
    s.at(4s);
    s.step("kill", killed, [&] { cluster.node(killed).kill_hard(); });
    s.at(10s);
    s.restart(killed);
    s.at(20s);
    s.step("pause", paused, [&] { cluster.node(paused).pause(); });
    s.at(24s);
    s.step("resume", paused, [&] { cluster.node(paused).resume(); });
    s.at(30s);
    s.step("cut", isolated, [&] { cluster.isolated_path().cut(); });
    s.at(34s);
    s.step("restore", isolated, [&] { cluster.isolated_path().restore(); });
    s.at(40s);
    s.drain(drained);

    // Revocations while the drain moves groups: an rl_ key and an imported key of probe users
    // of two different owners, best not the drained node and in groups that have not moved for
    // 3 s (an rl_ key reaches only its group's owner; an imported key any node).
    s.at(42s);
    revocation_report revocation;
    {
        const auto owners = cluster.owners().owners_now();
        const auto fitness = [&](std::size_t i) {
            const auto& owner = owners[users[i].group];
            if (owner.empty()) return 0;
            const auto changes = cluster.owners().changes(users[i].group);
            const bool settled = changes.empty() || steady::now() - changes.back().at > 3s;
            return 1 + (owner != drained) * 2 + settled;
        };
        std::optional<std::size_t> of_routed, of_imported;
        for (std::size_t i = 0; i < users.size(); ++i)
            if (fitness(i) > 0 && (!of_routed || fitness(i) > fitness(*of_routed))) of_routed = i;
        REQUIRE(of_routed);
        for (std::size_t i = 0; i < users.size(); ++i)
            if (fitness(i) > 0 && owners[users[i].group] != owners[users[*of_routed].group] &&
                (!of_imported || fitness(i) > fitness(*of_imported)))
                of_imported = i;
        REQUIRE(of_routed);
        REQUIRE(of_imported);
        const auto& a = users[*of_routed];
        const auto& b = users[*of_imported];
        std::printf(
            "acceptance: revoking the rl_ key of %s (owner %s) and the imported key of %s "
            "(owner %s)\n",
            a.name.c_str(), owners[a.group].c_str(), b.name.c_str(), owners[b.group].c_str());
        revocation.revoked[*of_routed * 2 + routed] =
            revoke(cluster, a.key_ids[routed], drained, revocation);
        revocation.revoked[*of_imported * 2 + imported] =
            revoke(cluster, b.key_ids[imported], drained, revocation);
        hammer_revoked(cluster, {a.keys[routed], b.keys[imported]}, 1s, 5ms, revocation);
        // More timings, on keys no load uses; each then refused once by every node.
        for (const auto& [key, key_id] : spare_keys) {
            revoke(cluster, key_id, drained, revocation);
            hammer_revoked(cluster, {key}, 1ms, 1ms, revocation);
        }
    }
    s.wait_drained();
    {
        INFO("rlctl cluster drain " << drained << ": " << s.drain_result().out
                                    << s.drain_result().err);
        CHECK(s.drain_result().exit_code == 0);
        const auto owners = cluster.owners().owners_now();
        CHECK(std::count(owners.begin(), owners.end(), drained) == 0);
    }
    s.undrain(drained);
    std::this_thread::sleep_for(3s);
    load.stop();
    const auto stopped = steady::now();
    // The per-minute fold (for usage), and the moves under way when the load stopped, which
    // the availability check looks ahead at.
    std::this_thread::sleep_for(11s);
    const auto records = load.records();
    std::printf("acceptance: load ran %.1f s: %zu probe requests; background %s\n",
                s.since_start(stopped), records.size(), load.background_summary().c_str());
    print_distribution(cluster);

    // 1. No 1-s window held more than the limit, for any probe user, over both keys.
    std::size_t total_excess = 0;
    for (std::size_t i = 0; i < users.size(); ++i) {
        const auto excess = excess_of(records, users[i], i);
        total_excess += excess;
        if (excess > 0)
            std::printf("acceptance: OVER-ADMISSION %s (limit %d, home %s): proven excess %zu\n",
                        users[i].name.c_str(), users[i].limit, users[i].home.c_str(), excess);
        CHECK(excess == 0);
    }
    std::printf("acceptance: proven excess over all probe users: %zu\n", total_excess);

    // 4. Revocation: each call quick, and every later request with a revoked key refused.
    {
        auto sorted = revocation.call_ms;
        std::sort(sorted.begin(), sorted.end());
        std::printf(
            "acceptance: rlctl key revoke: p50 %.1f ms, max %.1f ms over %zu calls; %d "
            "requests with revoked keys sent after\n",
            sorted[sorted.size() / 2], sorted.back(), sorted.size(), revocation.sent);
        std::string each;
        for (double ms : revocation.call_ms) each += " " + std::to_string(static_cast<int>(ms));
        std::printf("acceptance: rlctl key revoke calls (ms):%s\n", each.c_str());
        for (double ms : revocation.call_ms) CHECK(ms < 2000);
        if (sorted.back() >= 500)
            WARN("a revoke took " << sorted.back() << " ms; design §6.12 targets 500 ms");
        std::string refused_not;
        for (const auto& line : revocation.not_refused) refused_not += line + "\n";
        INFO("revoked keys not refused:\n" << refused_not);
        CHECK(revocation.not_refused.empty());
        int admitted_after = 0;
        for (const auto& r : records) {
            const auto it = revocation.revoked.find(r.user * 2u + r.key);
            admitted_after +=
                it != revocation.revoked.end() && r.sent > it->second.returned && r.status == 200;
        }
        CHECK(admitted_after == 0);
    }

    // 3. Availability: failed answers only around the events.
    {
        const auto report = check_availability(records, users, cluster, s, revocation.revoked);
        std::string by_status, unexcused;
        for (const auto& [status, n] : report.failures_by_status)
            by_status += " [" + status + "]=" + std::to_string(n);
        for (const auto& line : report.unexcused) unexcused += line + "\n";
        std::printf("acceptance: failed answers by status:%s; longest outage %.2f s (%s)\n",
                    by_status.c_str(), report.longest_outage_s, report.longest_outage.c_str());
        print_unavailability(records, users, cluster, s);
        std::string kinds;
        for (const auto& [kind, n] : report.unexcused_by_kind)
            kinds += " [" + kind + "]=" + std::to_string(n);
        std::printf("acceptance: failed answers outside the excused windows:%s\n",
                    kinds.empty() ? " none" : kinds.c_str());
        INFO("failed answers outside every excused window (" << report.unexcused.size() << "):\n"
                                                             << unexcused);
        CHECK(report.unexcused_by_kind.empty());
    }

    // 2. The nodes' own logs agree: no run of limit + 1 logged admits within 980 ms (§6.12:
    // the log's time is the reply's, on the system clock; the limiter's is the decision's, on
    // the steady clock). Runs within a full second are printed, not failed.
    {
        auto logged = admits_in_access_logs(cluster);
        for (const auto& u : users) {
            auto& user = logged[u.name];
            INFO(u.name << " (limit " << u.limit << "): " << user.admits.size()
                        << " admits in the access logs; the first run over the limit:"
                        << first_proven_run(user, static_cast<std::size_t>(u.limit)));
            CHECK(user.admits.size() > 0);
            const auto limit = static_cast<std::size_t>(u.limit);
            auto admits = user.admits;  // proven_excess sorts; `user` stays as described
            if (rl::testing::proven_excess(admits, limit) > 0)
                std::printf(
                    "acceptance: access logs of %s (limit %d): limit + 1 admits within "
                    "1 s of log time:%s\n",
                    u.name.c_str(), u.limit, first_proven_run(user, limit).c_str());
            CHECK(rl::testing::proven_excess(admits, limit, 980ms) == 0);
        }
    }

    // 5. Usage summed over the nodes: every 200 counted, at most the uncertain ones on top.
    {
        std::vector<steady::time_point> in_flight_at;
        for (const auto& e : s.events())
            if (e.what == "kill" || e.what == "pause") in_flight_at.push_back(e.at);
        std::int64_t probe_allowed = 0;
        for (std::size_t i = 0; i < users.size(); ++i) {
            std::int64_t admitted = 0, uncertain = 0;
            for (const auto& r : records) {
                if (r.user != i) continue;
                admitted += r.status == 200;
                // A fenced 503 may be an admit withheld by the reply deadline (rule O3): its
                // count is in usage already (docs/cluster.md, Limits), so it is uncertain.
                const bool node_said_no = r.status == 429 || r.status == 401 ||
                                          (r.status == 503 && r.reason == "not-owner");
                bool in_flight = false;
                for (const auto t : in_flight_at)
                    in_flight = in_flight || (r.sent <= t && r.answered >= t);
                uncertain += r.status != 200 && (!node_said_no || in_flight);
            }
            const auto r =
                cluster.rlctl({"--json", "usage", "--user", users[i].name, "--since", "10m"});
            INFO("rlctl usage " << users[i].name << ": " << r.out << r.err);
            REQUIRE(r.exit_code == 0);
            const auto usage = json::parse(r.out);
            CHECK(usage.value("partial", json::array()).empty());
            const auto allowed = allowed_total(usage);
            probe_allowed += allowed;
            INFO(users[i].name << ": clients saw " << admitted << " admitted, " << uncertain
                               << " uncertain; usage says " << allowed);
            CHECK(allowed >= admitted);
            CHECK(allowed <= admitted + uncertain);
        }

        // Each node's admitted counter against its own usage; the restarted one counts only
        // since its restart.
        std::int64_t local_sum = 0;
        for (auto& n : cluster.nodes()) {
            const auto metrics = rl::testing::http_request(
                "GET", n->admin_url() + "/metrics",
                {std::string("Authorization: Bearer ") + local_cluster::admin_token});
            const auto admitted = rl::testing::metric_value(
                metrics.body, "ratelimitd_decisions_total{outcome=\"admitted\"}");
            const auto local = rl::testing::http_request(
                "GET", n->admin_url() + "/v1/usage?since=10m&scope=local",
                {std::string("Authorization: Bearer ") + local_cluster::admin_token});
            INFO(n->id() << ": /v1/usage?scope=local " << local.status << " " << local.body);
            REQUIRE(local.status == 200);
            REQUIRE(admitted);
            const auto local_allowed = allowed_total(json::parse(local.body));
            local_sum += local_allowed;
            std::printf("acceptance: %s: admitted counter %.0f, local usage allowed %lld\n",
                        n->id().c_str(), *admitted, static_cast<long long>(local_allowed));
            if (n->id() == killed)
                CHECK(*admitted <= static_cast<double>(local_allowed));
            else
                CHECK(*admitted == static_cast<double>(local_allowed));
        }
        const auto everyone = admin(cluster, "GET", "/v1/usage?since=10m");
        REQUIRE(everyone.status == 200);
        CHECK(allowed_total(everyone.body) == local_sum);
        CHECK(probe_allowed <= local_sum);
    }
}

TEST_CASE(
    "with fence 0 (fast mode) the probe sees over-admission at planned moves, none at a crash") {
    rl::testing::temp_dir dir;
    local_cluster::options fast;
    fast.fence = "0ms";
    local_cluster cluster(dir.path(), fast);
    print_distribution(cluster);
    // Small limits hammered over several connections: a second owner admitting within the
    // first one's window shows at once.
    auto users = provision_probes(cluster, "fast", 4, {5});
    const auto background = provision_background(cluster, 50);
    wait_probes_answered(cluster, users);
    const std::string killed = node_with_most_probes(users, cluster);
    const std::string isolated = cluster.nodes().back()->id();
    const std::string drained = killed == "rl1" ? "rl2" : "rl1";

    load_shape hammer;
    hammer.connections = 3;
    hammer.period = 10ms;
    hammer.background_connections = 1;
    load_run load(cluster.balancer().url(), users, background, hammer);
    scenario s(cluster, load.started());
    s.at(3s);
    s.step("kill", killed, [&] { cluster.node(killed).kill_hard(); });
    s.at(8s);
    s.restart(killed);  // handback starts 5 s after its membership
    s.at(22s);
    s.step("cut", isolated, [&] { cluster.isolated_path().cut(); });
    s.at(26s);
    s.step("restore", isolated, [&] { cluster.isolated_path().restore(); });
    s.at(32s);
    s.drain(drained);
    s.wait_drained();
    s.undrain(drained);
    std::this_thread::sleep_for(3s);
    load.stop();
    const auto records = load.records();
    std::printf("acceptance: fast mode load: %zu probe requests\n", records.size());

    const auto kill_at = *s.first("kill");
    const auto ready_at = *s.first("ready");
    std::size_t crash_excess = 0, total_excess = 0;
    std::map<std::string, std::size_t> by_step;
    for (std::size_t i = 0; i < users.size(); ++i) {
        const auto& u = users[i];
        const auto excess = excess_of(records, u, i);
        total_excess += excess;
        crash_excess += excess_of(records, u, i, kill_at - 1500ms, ready_at + 4s);
        // Which step each over-admission came with: the moves of the user's group.
        for (const auto& c : cluster.owners().changes(u.group)) {
            if (c.owner.empty()) continue;
            const auto near = excess_of(records, u, i, c.at - 1s, c.at + 1s);
            if (near == 0) continue;
            std::string step = c.at < *s.first("cut")       ? "handback"
                               : c.at < *s.first("drain")   ? "partition"
                               : c.at < *s.first("undrain") ? "drain"
                                                            : "undrain";
            if (c.at < ready_at + 4s) step = "crash";
            by_step[step] += near;
        }
        std::printf("acceptance: fast mode %s (limit %d): proven excess %zu\n", u.name.c_str(),
                    u.limit, excess);
    }
    for (const auto& [step, n] : by_step)
        std::printf("acceptance: fast mode excess near %s moves: %zu\n", step.c_str(), n);
    std::printf("acceptance: fast mode: total proven excess %zu, around the crash %zu\n",
                total_excess, crash_excess);
    CHECK(total_excess > 0);
    CHECK(crash_excess == 0);
}
