#include "cli/cluster_admin_commands.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "cli/admin_client.hpp"
#include "cluster/haproxy_config.hpp"
#include "common/time_text.hpp"

namespace rl::cli {

namespace {

using nlohmann::json;

struct cluster_arguments {
    std::string node;
    bool no_wait = false;
    std::string listen = "127.0.0.1:8090";
    std::string out = ".";
    std::string map_path;
    std::string stats_socket = "/run/haproxy/rl.sock";
    std::string timeout_server = "250ms";
};

std::string format_status(const json& s) {
    std::string out = fmt::format(
        "node {} (asked): lease {}, {:.2f} s left, catalog revision {} "
        "(etcd {})\n",
        s.value("node", ""), s.value("lease_held", false) ? "held" : "NOT held",
        s.value("lease_remaining_s", 0.0), s.value("applied_revision", 0),
        s.value("seen_revision", 0));
    std::map<std::string, std::vector<std::string>> by_owner;
    std::size_t unowned = 0;
    for (const json& g : s.at("groups")) {
        if (g.at("owner").is_null()) {
            ++unowned;
            continue;
        }
        by_owner[g.at("owner").get<std::string>()].push_back(
            std::to_string(g.at("group").get<int>()));
    }
    std::vector<std::string> drained;
    for (const json& d : s.value("drained", json::array())) drained.push_back(d.get<std::string>());
    auto is_drained = [&](const std::string& id) {
        return std::find(drained.begin(), drained.end(), id) != drained.end();
    };
    out += fmt::format("{:<16} {:<28} {:>6}  {}\n", "MEMBER", "PUBLIC", "GROUPS", "");
    for (const json& m : s.at("members")) {
        const std::string id = m.value("id", "");
        const auto owned = by_owner.count(id) ? by_owner[id].size() : 0;
        out += fmt::format("{:<16} {:<28} {:>6}  {}\n", id, m.value("public", ""), owned,
                           is_drained(id) ? "drained" : "");
    }
    for (const auto& [owner, groups] : by_owner) {
        bool member = false;
        for (const json& m : s.at("members")) member = member || m.value("id", "") == owner;
        if (!member)
            out += fmt::format("{:<16} {:<28} {:>6}  not a member (lease expiring)\n", owner, "",
                               groups.size());
    }
    out += fmt::format(
        "groups: {} of {} owned{}\n", s.at("groups").size() - unowned, s.at("groups").size(),
        unowned ? fmt::format(", {} without an owner (503 for their users)", unowned) : "");
    return out;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    const auto temporary = path.string() + ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << text;
        if (!out.flush()) throw cli_error("cannot write " + temporary);
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    if (ec) throw cli_error(fmt::format("cannot write {}: {}", path.string(), ec.message()));
}

}  // namespace

void add_cluster_admin_commands(CLI::App& cluster,
                                const std::function<void(std::function<void(session&)>)>& choose) {
    auto a = std::make_shared<cluster_arguments>();

    auto* status = cluster.add_subcommand(
        "status", "Members, the owner of each group, lease and catalog revision");
    status->callback([a, choose] {
        choose([](session& s) {
            const json report = s.request("GET", "/v1/cluster/status");
            s.print(report, [&] { return format_status(report); });
        });
    });

    auto* drain = cluster.add_subcommand(
        "drain", "Move every group off a node, one at a time, and keep it empty");
    drain->add_option("NODE", a->node, "The node id")->required();
    drain->add_flag("--no-wait", a->no_wait, "Return at once instead of when the node owns none");
    drain->callback([a, choose] {
        choose([a](session& s) {
            const json done = s.request("POST", "/v1/cluster/drain",
                                        json{{"node", a->node}, {"wait", !a->no_wait}});
            s.print(done, [&] {
                return a->no_wait ? fmt::format("draining {}\n", a->node)
                                  : fmt::format("{} drained: it owns no group\n", a->node);
            });
        });
    });

    auto* undrain = cluster.add_subcommand(
        "undrain", "Let a drained node take groups again (handback, one group at a time)");
    undrain->add_option("NODE", a->node, "The node id")->required();
    undrain->callback([a, choose] {
        choose([a](session& s) {
            const json done = s.request("POST", "/v1/cluster/undrain", json{{"node", a->node}});
            s.print(done, [&] { return fmt::format("{} may own groups again\n", a->node); });
        });
    });

    auto* haproxy = cluster.add_subcommand(
        "haproxy-config",
        "Write haproxy.cfg and rl-groups.map for the current members (routes each key to its "
        "group's owner)");
    haproxy->add_option("--listen", a->listen, "HAProxy's address for /limit")
        ->capture_default_str();
    haproxy->add_option("--out", a->out, "Directory to write both files to")->capture_default_str();
    haproxy->add_option("--map-path", a->map_path,
                        "Where the map will be installed (default: <--out>/rl-groups.map)");
    haproxy->add_option("--stats-socket", a->stats_socket, "HAProxy's runtime socket ('' for none)")
        ->capture_default_str();
    haproxy
        ->add_option("--timeout-server", a->timeout_server,
                     "HAProxy's timeout server: the nodes' reply deadline")
        ->capture_default_str();
    haproxy->callback([a, choose] {
        choose([a](session& s) {
            const json report = s.request("GET", "/v1/cluster/status");
            std::vector<cluster::haproxy_node> nodes;
            for (const json& m : report.at("members"))
                nodes.push_back({m.value("id", ""), m.value("public", "")});
            cluster::haproxy_options options;
            options.listen = a->listen;
            const auto timeout = common::parse_duration_ms(a->timeout_server);
            if (!timeout || timeout->count() <= 0)
                throw cli_error("--timeout-server: a duration such as 250ms");
            options.timeout_server = *timeout;
            const std::filesystem::path dir(a->out);
            std::error_code ec;
            std::filesystem::create_directories(dir, ec);
            if (ec) throw cli_error(fmt::format("--out {}: {}", a->out, ec.message()));
            options.map_path = a->map_path.empty()
                                   ? std::filesystem::absolute(dir / "rl-groups.map").string()
                                   : a->map_path;
            options.stats_socket = a->stats_socket;
            cluster::haproxy_files files;
            try {
                files = cluster::render_haproxy_config(
                    nodes, report.value("groups_count", std::uint32_t{32}), options);
            } catch (const std::invalid_argument& e) {
                throw cli_error(e.what());
            }
            write_file(dir / "haproxy.cfg", files.config);
            write_file(dir / "rl-groups.map", files.group_map);
            const json done{{"config", (dir / "haproxy.cfg").string()},
                            {"map", (dir / "rl-groups.map").string()},
                            {"nodes", nodes.size()}};
            s.print(done, [&] {
                return fmt::format("wrote {} and {} for {} node(s)\n",
                                   (dir / "haproxy.cfg").string(), (dir / "rl-groups.map").string(),
                                   nodes.size());
            });
        });
    });
}

}  // namespace rl::cli
