#include "tests/support/cluster_harness.hpp"

#include <curl/curl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster/etcd_client.hpp"
#include "cluster/fences.hpp"
#include "cluster/layout.hpp"
#include "tests/support/etcd_member.hpp"
#include "tests/support/http_client.hpp"

namespace rl::testing {

namespace {

std::string tail(const std::string& text, std::size_t bytes = 6000) {
    return text.size() <= bytes ? text : "…" + text.substr(text.size() - bytes);
}

}  // namespace

std::string haproxy_command(const std::string& socket_path, const std::string& command) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::write(fd, (command + "\n").data(), command.size() + 1) > 0) {
        char buf[4096];
        for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
            answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return answer;
}

std::map<std::string, std::vector<std::string>> servers_up(const std::string& socket_path) {
    std::map<std::string, std::vector<std::string>> up;
    std::istringstream lines(haproxy_command(socket_path, "show stat"));
    for (std::string line; std::getline(lines, line);) {
        std::vector<std::string> fields;
        std::stringstream row(line);
        for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
        // pxname, svname, ..., status is the 18th field
        if (fields.size() < 18 || fields[1] == "FRONTEND" || fields[1] == "BACKEND") continue;
        if (fields[17] == "UP") up[fields[0]].push_back(fields[1]);
    }
    return up;
}

command_result rlctl(const std::string& admin_url, const std::string& token,
                     const std::vector<std::string>& args) {
    std::vector<std::string> argv = {rlctl_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env = {"RL_ADMIN_TOKEN=" + token};
    if (!admin_url.empty()) env.push_back("RL_ADMIN_URL=" + admin_url);
    return run_command(argv, env);
}

// --- etcd_path ---

etcd_path::etcd_path(const std::string& dir, int etcd_port)
    : socket_(dir + "/etcd-path.sock"), port_(free_port()) {
    const std::string config = dir + "/etcd-path.cfg";
    // Long client and server timeouts: a watch stream is idle between events.
    std::ofstream(config) << "global\n"
                             "    stats socket "
                          << socket_
                          << " mode 600 level admin\n"
                             "defaults\n"
                             "    mode tcp\n"
                             "    timeout connect 1s\n"
                             "    timeout client 1h\n"
                             "    timeout server 1h\n"
                             "frontend fe_etcd\n"
                             "    bind 127.0.0.1:"
                          << port_
                          << "\n"
                             "    default_backend be_etcd\n"
                             "backend be_etcd\n"
                             "    server e1 127.0.0.1:"
                          << etcd_port << "\n";
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{find_program("haproxy"), "-db", "-f", config},
        dir + "/etcd-path.log");
    process_->wait_until_answering(url() + "/health");
}

void etcd_path::command(const std::string& text) {
    const std::string answer = haproxy_command(socket_, text);
    // Successful runtime commands answer with an empty line; anything else is an error text.
    if (answer.find_first_not_of("\r\n ") != std::string::npos)
        throw std::runtime_error("haproxy runtime '" + text + "': " + answer);
}

void etcd_path::cut() {
    command("set server be_etcd/e1 state maint");
    command("shutdown sessions server be_etcd/e1");
}

void etcd_path::restore() {
    command("set server be_etcd/e1 state ready");
}

// --- cluster_node ---

cluster_node::cluster_node(node_config config) : config_(std::move(config)) {}

std::string cluster_node::public_url() const {
    return "http://127.0.0.1:" + std::to_string(public_port_);
}

std::string cluster_node::admin_url() const {
    return "http://127.0.0.1:" + std::to_string(admin_port_);
}

std::string cluster_node::log() const {
    return read_text_file(config_.dir + "/" + config_.id + ".log");
}

void cluster_node::launch() {
    if (!ports_fixed_ || public_port_ == 0) {
        public_port_ = free_port();
        admin_port_ = free_port();
    }
    std::vector<std::string> argv = {ratelimitd_path(),
                                     "--data-dir",
                                     config_.dir + "/" + config_.id,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(public_port_),
                                     "--admin-listen",
                                     "127.0.0.1:" + std::to_string(admin_port_),
                                     "--threads",
                                     "1",
                                     "--cluster-etcd",
                                     config_.etcd_url,
                                     "--node-id",
                                     config_.id,
                                     "--advertise-public",
                                     public_url(),
                                     "--advertise-admin",
                                     admin_url(),
                                     "--access-log",
                                     access_log_path()};
    argv.insert(argv.end(), config_.extra_args.begin(), config_.extra_args.end());
    process_ = std::make_unique<child_process>(
        argv, config_.dir + "/" + config_.id + ".log",
        std::vector<std::string>{"RL_ADMIN_TOKEN=" + config_.admin_token});
}

void cluster_node::wait_ready(std::chrono::seconds bound) {
    const auto deadline = steady::now() + bound;
    while (steady::now() < deadline) {
        if (!process_->running())
            throw std::runtime_error("node " + config_.id + " exited before /readyz said 200; " +
                                     "its log:\n" + tail(log()));
        if (http_request("GET", public_url() + "/readyz").status == 200) {
            ports_fixed_ = true;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("node " + config_.id + ": /readyz not 200 within " +
                             std::to_string(bound.count()) + " s; its log:\n" + tail(log()));
}

void cluster_node::start() {
    for (int attempt = 0;; ++attempt) {
        launch();
        try {
            wait_ready();
            return;
        } catch (const std::runtime_error&) {
            // Only a first start may move to other ports; HAProxy knows the ports after it.
            if (ports_fixed_ || attempt == 2 || process_->running()) throw;
        }
    }
}

void cluster_node::kill_hard() {
    if (process_) process_->kill_hard();
}

void cluster_node::pause() {
    if (process_ && process_->pid() > 0) ::kill(process_->pid(), SIGSTOP);
}

void cluster_node::resume() {
    if (process_ && process_->pid() > 0) ::kill(process_->pid(), SIGCONT);
}

bool cluster_node::running() {
    return process_ && process_->running();
}

// --- status ---

std::optional<cluster_view> cluster_status(const std::string& admin_url, const std::string& token) {
    const auto r =
        http_request("GET", admin_url + "/v1/cluster/status", {"Authorization: Bearer " + token});
    if (r.status != 200) return std::nullopt;
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("groups") || !body["groups"].is_array())
        return std::nullopt;
    cluster_view view;
    view.raw = r.body;
    for (const auto& g : body["groups"]) {
        const auto index = g.value("group", static_cast<std::uint32_t>(view.owners.size()));
        if (view.owners.size() <= index) view.owners.resize(index + 1);
        if (g.contains("owner") && g["owner"].is_string())
            view.owners[index] = g["owner"].get<std::string>();
    }
    if (body.contains("members") && body["members"].is_array())
        for (const auto& m : body["members"]) {
            if (m.is_string())
                view.members.push_back(m.get<std::string>());
            else if (m.is_object() && m.contains("id"))
                view.members.push_back(m.value("id", ""));
        }
    return view;
}

// --- owner_timeline ---

owner_timeline::owner_timeline(const std::string& etcd_url, std::uint32_t groups)
    : history_(groups), last_change_(steady::now()) {
    cluster::etcd_options options;
    options.endpoints = {etcd_url};
    etcd_ = std::make_unique<cluster::etcd_client>(options);
    const auto start = etcd_->get_prefix(std::string(cluster::layout::owners_prefix));
    if (!start) throw std::runtime_error("owner timeline: " + start.error().message);
    const auto now = steady::now();
    for (auto& h : history_) h.push_back({now, ""});
    for (const auto& kv : start->kvs)
        if (auto g = cluster::layout::group_of_owner_key(kv.key); g && *g < groups)
            history_[*g].front().owner = kv.value;
    cluster::watch_handler handler;
    handler.on_update = [this](const cluster::watch_update& update) {
        const auto at = steady::now();
        std::lock_guard lock(mutex_);
        for (const auto& event : update.events) {
            const auto g = cluster::layout::group_of_owner_key(event.kv.key);
            if (!g || *g >= history_.size()) continue;
            const std::string owner =
                event.what == cluster::watch_event::kind::put ? event.kv.value : "";
            if (history_[*g].back().owner == owner) continue;
            history_[*g].push_back({at, owner});
            last_change_ = at;
        }
    };
    handler.on_error = [](const cluster::etcd_error&) {};  // it reconnects by itself
    watch_ = etcd_->watch_prefix(std::string(cluster::layout::owners_prefix), start->revision + 1,
                                 std::move(handler));
}

owner_timeline::~owner_timeline() = default;

std::vector<std::string> owner_timeline::owners_now() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> owners;
    for (const auto& h : history_) owners.push_back(h.back().owner);
    return owners;
}

std::vector<owner_timeline::change> owner_timeline::changes(std::uint32_t group) const {
    std::lock_guard lock(mutex_);
    return {history_.at(group).begin() + 1, history_.at(group).end()};
}

std::string owner_timeline::owner_at(std::uint32_t group, steady::time_point at) const {
    std::lock_guard lock(mutex_);
    std::string owner = history_.at(group).front().owner;
    for (const auto& c : history_.at(group)) {
        if (c.at > at) break;
        owner = c.owner;
    }
    return owner;
}

steady::time_point owner_timeline::last_change() const {
    std::lock_guard lock(mutex_);
    return last_change_;
}

// --- gateway ---

gateway::gateway(const std::string& dir, const std::string& admin_url, const std::string& token)
    : socket_(dir + "/haproxy/rl.sock"), port_(free_port()) {
    const std::string out = dir + "/haproxy";
    std::filesystem::create_directories(out);
    const auto written =
        rlctl(admin_url, token,
              {"cluster", "haproxy-config", "--listen", "127.0.0.1:" + std::to_string(port_),
               "--out", out, "--map-path", out + "/rl-groups.map"});
    if (written.exit_code != 0)
        throw std::runtime_error("rlctl cluster haproxy-config failed (" +
                                 std::to_string(written.exit_code) + "): " + written.out +
                                 written.err);
    // The generated stats socket is a system path; this one lives with the test.
    std::istringstream in(read_text_file(out + "/haproxy.cfg"));
    if (in.str().empty()) throw std::runtime_error("rlctl wrote no " + out + "/haproxy.cfg");
    std::string config;
    bool socket_set = false;
    for (std::string line; std::getline(in, line);) {
        if (line.find("stats socket") != std::string::npos) {
            line = "    stats socket " + socket_ + " mode 600 level admin";
            socket_set = true;
        }
        config += line + "\n";
        if (line == "global" && !socket_set) {
            config += "    stats socket " + socket_ + " mode 600 level admin\n";
            socket_set = true;
        }
    }
    std::ofstream(out + "/haproxy.cfg") << config;
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{find_program("haproxy"), "-db", "-f", out + "/haproxy.cfg"},
        dir + "/haproxy.log");
    process_->wait_until_answering(url() + "/limit");
}

void gateway::wait_routed(std::uint32_t groups, std::size_t nodes, std::chrono::seconds bound) {
    const auto deadline = steady::now() + bound;
    std::string missing;
    while (steady::now() < deadline) {
        auto up = servers_up(socket_);
        missing.clear();
        for (std::uint32_t g = 0; g < groups; ++g) {
            const std::string backend = "rl_g" + cluster::layout::group_label(g);
            if (up[backend].size() != 1)
                missing += " " + backend + "(" + std::to_string(up[backend].size()) + " up)";
        }
        if (up["rl_any"].size() != nodes)
            missing += " rl_any(" + std::to_string(up["rl_any"].size()) + " up)";
        if (missing.empty()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("haproxy: backends without exactly one server up after " +
                             std::to_string(bound.count()) + " s:" + missing + "\nshow stat:\n" +
                             haproxy_command(socket_, "show stat"));
}

// --- probe_connection ---

namespace {

std::size_t discard_body(char*, std::size_t size, std::size_t count, void*) {
    return size * count;
}

std::size_t keep_reason(char* data, std::size_t size, std::size_t count, void* user) {
    const std::string line(data, size * count);
    constexpr std::string_view name = "x-ratelimit-reason:";
    if (line.size() > name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
        std::string value = line.substr(name.size());
        value.erase(0, value.find_first_not_of(" \t"));
        value.erase(value.find_last_not_of(" \t\r\n") + 1);
        *static_cast<std::string*>(user) = value;
    }
    return size * count;
}

}  // namespace

probe_connection::probe_connection() : curl_(curl_easy_init()) {}

probe_connection::~probe_connection() {
    curl_easy_cleanup(static_cast<CURL*>(curl_));
}

probe_connection::answer probe_connection::get(const std::string& url, const std::string& api_key) {
    CURL* curl = static_cast<CURL*>(curl_);
    const std::string header = "X-API-KEY: " + api_key;
    curl_slist* list = curl_slist_append(nullptr, header.c_str());
    reason_.clear();
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep_reason);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reason_);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    answer a;
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    a.status = static_cast<int>(status);
    a.reason = reason_;
    return a;
}

// --- local_cluster ---

local_cluster::local_cluster(const std::string& dir, options opts)
    : dir_(dir), groups_(opts.groups) {
    etcd_ = std::make_unique<etcd_member>(dir);
    path_ = std::make_unique<etcd_path>(dir, etcd_->client_port());
    const auto init = testing::rlctl(
        "", admin_token,
        {"cluster", "init", "--etcd", etcd_->client_url(), "--groups", std::to_string(groups_),
         "--lease-ttl", opts.lease_ttl, "--fence", opts.fence});
    if (init.exit_code != 0)
        throw std::runtime_error("rlctl cluster init failed (" + std::to_string(init.exit_code) +
                                 "): " + init.out + init.err);
    owners_ = std::make_unique<owner_timeline>(etcd_->client_url(), groups_);
    for (std::size_t i = 1; i <= opts.nodes; ++i) {
        const bool isolated = i == opts.nodes;
        nodes_.push_back(std::make_unique<cluster_node>(
            node_config{"rl" + std::to_string(i),
                        dir,
                        isolated ? path_->url() : etcd_->client_url(),
                        admin_token,
                        {"--handback-after", opts.handback_after}}));
    }
    // Together, so that no node finds every group unowned and takes them all.
    for (auto& n : nodes_) n->launch();
    for (auto& n : nodes_) n->wait_ready();

    // Every group owned, by its rendezvous-hash choice among all the nodes (what a cluster
    // started at once settles to, with no handback left to come).
    std::vector<std::string> wanted(groups_);
    for (std::uint32_t g = 0; g < groups_; ++g) {
        std::uint64_t best = 0;
        for (auto& n : nodes_)
            if (wanted[g].empty() || cluster::hrw_rank(n->id(), g) > best) {
                wanted[g] = n->id();
                best = cluster::hrw_rank(n->id(), g);
            }
    }
    const auto deadline = steady::now() + opts.settle_bound;
    for (;;) {
        const auto view = cluster_status(nodes_.front()->admin_url(), admin_token);
        const bool all_owned = view && view->owners.size() == groups_ &&
                               std::none_of(view->owners.begin(), view->owners.end(),
                                            [](const std::string& owner) { return owner.empty(); });
        if (all_owned && owners_->owners_now() == wanted) break;
        if (steady::now() > deadline) {
            std::string logs, owners, expected;
            for (const auto& o : owners_->owners_now()) owners += " " + (o.empty() ? "-" : o);
            for (const auto& o : wanted) expected += " " + o;
            for (auto& n : nodes_) logs += "\n--- " + n->id() + ":\n" + tail(n->log(), 3000);
            throw std::runtime_error(
                "groups not all owned by their rendezvous choice within " +
                std::to_string(opts.settle_bound.count()) + " s\nowners in etcd:" + owners +
                "\nexpected:      " + expected + "\nlast /v1/cluster/status: " +
                (view ? view->raw : "(none from " + nodes_.front()->id() + ")") + logs);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    gateway_ = std::make_unique<gateway>(dir, nodes_.front()->admin_url(), admin_token);
    gateway_->wait_routed(groups_, nodes_.size(), std::chrono::seconds(20));
}

local_cluster::~local_cluster() {
    // No planned release (it waits a fence per group): the test is over.
    for (auto& n : nodes_) {
        n->resume();
        n->kill_hard();
    }
}

cluster_node& local_cluster::node(const std::string& id) {
    for (auto& n : nodes_)
        if (n->id() == id) return *n;
    throw std::invalid_argument("no node " + id);
}

std::string local_cluster::admin_url(const std::string& avoid) {
    for (auto& n : nodes_)
        if (n->id() != avoid && n->running()) return n->admin_url();
    throw std::runtime_error("no running node to ask");
}

command_result local_cluster::rlctl(const std::vector<std::string>& args,
                                    const std::string& avoid) {
    return testing::rlctl(admin_url(avoid), admin_token, args);
}

std::optional<double> metric_value(const std::string& metrics_text, const std::string& series) {
    std::istringstream lines(metrics_text);
    for (std::string line; std::getline(lines, line);)
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ')
            return std::stod(line.substr(series.size() + 1));
    return std::nullopt;
}

}  // namespace rl::testing
