#pragma once
// A real cluster for tests: one etcd member, ratelimitd nodes in cluster mode on fixed loopback
// ports (so a node restarts where HAProxy expects it), a TCP HAProxy that stands between one
// node and etcd so that node alone can be cut off, the HTTP HAProxy that
// `rlctl cluster haproxy-config` writes, and the owners of the groups as etcd records them.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace rl::cluster {
class etcd_client;
class etcd_watch;
}  // namespace rl::cluster

namespace rl::testing {

class etcd_member;
using steady = std::chrono::steady_clock;

// One command on an HAProxy stats socket, and its whole answer.
std::string haproxy_command(const std::string& socket_path, const std::string& command);

// backend → the servers `show stat` reports UP in it.
std::map<std::string, std::vector<std::string>> servers_up(const std::string& socket_path);

// rlctl with RL_ADMIN_URL and RL_ADMIN_TOKEN set; `admin_url` may be empty (rlctl cluster init).
command_result rlctl(const std::string& admin_url, const std::string& token,
                     const std::vector<std::string>& args);

// A TCP-mode HAProxy in front of etcd: a node given url() as its etcd reaches etcd only through
// it, and cut() severs that path (new connections and the open watch and keepalive streams)
// through the runtime socket until restore().
class etcd_path {
public:
    etcd_path(const std::string& dir, int etcd_port);
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void cut();
    void restore();

private:
    void command(const std::string& text);

    std::string socket_;
    int port_ = 0;
    std::unique_ptr<child_process> process_;
};

struct node_config {
    std::string id;           // rl1, rl2, ...
    std::string dir;          // its data dir is dir/<id>, its logs dir/<id>.log and .access.log
    std::string etcd_url;     // what --cluster-etcd gets
    std::string admin_token;  // RL_ADMIN_TOKEN, the same on every node
    std::vector<std::string> extra_args;
};

// A ratelimitd in cluster mode. Its ports are chosen at the first start and kept after it.
class cluster_node {
public:
    explicit cluster_node(node_config config);

    // Starts it and waits until /readyz answers 200; throws with its log after 30 s or when it
    // exits (at the first start, a port race is retried on fresh ports).
    void start();
    // Spawns it without waiting (nodes started together campaign together).
    void launch();
    void wait_ready(std::chrono::seconds bound = std::chrono::seconds(30));

    void kill_hard();
    void pause();   // SIGSTOP
    void resume();  // SIGCONT
    bool running();

    const std::string& id() const noexcept { return config_.id; }
    int public_port() const noexcept { return public_port_; }
    std::string public_url() const;
    std::string admin_url() const;
    std::string access_log_path() const { return config_.dir + "/" + config_.id + ".access.log"; }
    std::string log() const;  // its stderr, over every start

private:
    node_config config_;
    int public_port_ = 0;
    int admin_port_ = 0;
    bool ports_fixed_ = false;
    std::unique_ptr<child_process> process_;
};

// GET /v1/cluster/status, reduced to what tests look at.
struct cluster_view {
    std::vector<std::string> owners;   // by group; "" when unowned
    std::vector<std::string> members;  // live member ids
    std::string raw;                   // the JSON as it came
};
// nullopt when the node does not answer 200 with JSON that has the groups.
std::optional<cluster_view> cluster_status(const std::string& admin_url, const std::string& token);

// The owners of the groups as etcd records them (/rl/v1/owners/), from a watch that keeps the
// time each change arrived at, to tell afterwards who owned a group when.
class owner_timeline {
public:
    struct change {
        steady::time_point at;
        std::string owner;  // "" when the key went (released or expired)
    };

    owner_timeline(const std::string& etcd_url, std::uint32_t groups);
    ~owner_timeline();

    std::vector<std::string> owners_now() const;
    std::vector<change> changes(std::uint32_t group) const;  // in order, the start excluded
    // The owner at `at` ("" when unowned).
    std::string owner_at(std::uint32_t group, steady::time_point at) const;
    // The last change of any group, or the time the timeline started.
    steady::time_point last_change() const;

private:
    std::unique_ptr<cluster::etcd_client> etcd_;
    std::unique_ptr<cluster::etcd_watch> watch_;
    mutable std::mutex mutex_;
    std::vector<std::vector<change>> history_;  // by group; the first entry is the start
    steady::time_point last_change_;
};

// HAProxy with the configuration `rlctl cluster haproxy-config` wrote into `dir`, its stats
// socket moved into `dir` (the generated one is a system path).
class gateway {
public:
    // Writes the configuration through rlctl against `admin_url`, then starts haproxy -db.
    gateway(const std::string& dir, const std::string& admin_url, const std::string& token);
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    const std::string& stats_socket() const noexcept { return socket_; }
    // Until each of the `groups` backends has exactly one server up and rl_any has `nodes`.
    void wait_routed(std::uint32_t groups, std::size_t nodes, std::chrono::seconds bound);
    std::string log() const { return process_->log(); }

private:
    std::string socket_;
    int port_ = 0;
    std::unique_ptr<child_process> process_;
};

// One keep-alive connection that also reports why a 503 was a 503.
class probe_connection {
public:
    probe_connection();
    ~probe_connection();
    probe_connection(const probe_connection&) = delete;
    probe_connection& operator=(const probe_connection&) = delete;

    struct answer {
        int status = 0;      // 0: no answer
        std::string reason;  // X-RateLimit-Reason
    };
    answer get(const std::string& url, const std::string& api_key);

private:
    void* curl_;
    std::string reason_;
};

// Setup steps 1-4 of design §6.12: one etcd member, `rlctl cluster init`, nodes rl1..rlN started
// together (rlN reaches etcd only through an etcd_path), every group owned by its rendezvous
// choice, then HAProxy from `rlctl cluster haproxy-config` routing every group to its owner.
class local_cluster {
public:
    struct options {
        std::size_t nodes = 3;
        std::uint32_t groups = 32;
        std::string lease_ttl = "3s";
        std::string fence = "1250ms";
        std::string handback_after = "5s";
        std::chrono::seconds settle_bound{60};
    };
    // Everything lives under `dir`, which the caller owns.
    local_cluster(const std::string& dir, options opts);
    ~local_cluster();

    static constexpr const char* admin_token = "acceptance-admin-token-0123456789";
    std::uint32_t groups() const noexcept { return groups_; }
    const std::string& dir() const noexcept { return dir_; }
    cluster_node& node(const std::string& id);
    std::vector<std::unique_ptr<cluster_node>>& nodes() noexcept { return nodes_; }
    etcd_path& isolated_path() { return *path_; }  // the etcd path of the last node
    owner_timeline& owners() { return *owners_; }
    gateway& balancer() { return *gateway_; }
    // The admin URL of a node that runs, other than `avoid`.
    std::string admin_url(const std::string& avoid = "");
    // rlctl against admin_url(avoid).
    command_result rlctl(const std::vector<std::string>& args, const std::string& avoid = "");

private:
    std::string dir_;
    std::uint32_t groups_ = 0;
    std::unique_ptr<etcd_member> etcd_;
    std::unique_ptr<etcd_path> path_;
    std::vector<std::unique_ptr<cluster_node>> nodes_;
    std::unique_ptr<owner_timeline> owners_;
    std::unique_ptr<gateway> gateway_;
};

// The value of one series in Prometheus text (`name{labels}` exactly as written), or nullopt.
std::optional<double> metric_value(const std::string& metrics_text, const std::string& series);

}  // namespace rl::testing
