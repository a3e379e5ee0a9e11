#include "cluster/haproxy_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>

#include "cluster/layout.hpp"

namespace rl::cluster {

namespace {

// Health checks of the group backends: a new owner is found within inter × rise and a lost one
// dropped within inter × fall, both well inside the time a move keeps a group without an owner.
constexpr const char* group_check = "check inter 250ms fall 2 rise 1";
// Imported keys go to any live node and are retried on 503 not-owner until the owner answers.
constexpr const char* any_check = "check inter 500ms fall 2 rise 2";

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

// "host:port" from "host:port", "http://host:port" or "http://host:port/"; anything that could
// break out of a config line is refused.
std::string host_port(const std::string& what, const std::string& text) {
    std::string address = text;
    if (address.rfind("http://", 0) == 0) address.erase(0, 7);
    if (!address.empty() && address.back() == '/') address.pop_back();
    const auto fail = [&] {
        return std::invalid_argument(
            fmt::format("{}: '{}' is not host:port or http://host:port", what, text));
    };
    const std::size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0) throw fail();
    const std::string host = address.substr(0, colon);
    const std::string port = address.substr(colon + 1);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    for (std::size_t i = bracketed ? 1 : 0; i < host.size() - (bracketed ? 1 : 0); ++i) {
        const char c = host[i];
        if (!(bracketed ? (std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')
                        : is_host_char(c)))
            throw fail();
    }
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoul(port) == 0 || std::stoul(port) > 65535)
        throw fail();
    return address;
}

bool is_safe_path(const std::string& path) {
    return !path.empty() && std::none_of(path.begin(), path.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#' || c == '"' ||
               c == '\'' || c == ',' || c == ')' || c == '\\';
    });
}

std::string backend_name(std::uint32_t group) {
    return "rl_g" + layout::group_label(group);
}

}  // namespace

haproxy_files render_haproxy_config(const std::vector<haproxy_node>& nodes, std::uint32_t groups,
                                    const haproxy_options& options) {
    if (nodes.empty()) throw std::invalid_argument("no nodes: the cluster has no members");
    if (!layout::is_valid_group_count(groups))
        throw std::invalid_argument(
            fmt::format("groups: {} is not from 1 to {}", groups, layout::max_groups));
    if (!is_safe_path(options.map_path))
        throw std::invalid_argument(fmt::format("map path '{}' is not usable", options.map_path));
    if (!options.stats_socket.empty() && !is_safe_path(options.stats_socket))
        throw std::invalid_argument(
            fmt::format("stats socket '{}' is not usable", options.stats_socket));
    if (options.timeout_server.count() <= 0)
        throw std::invalid_argument("timeout server must be positive");

    std::set<std::string> seen;
    std::string servers;
    std::string backups;
    for (const auto& node : nodes) {
        if (!layout::is_valid_node_id(node.id))
            throw std::invalid_argument(
                fmt::format("node id '{}' is not 1-64 of [A-Za-z0-9._-]", node.id));
        if (!seen.insert(node.id).second)
            throw std::invalid_argument(fmt::format("node id '{}' is listed twice", node.id));
        const std::string address =
            host_port("node " + node.id + " public address", node.public_address);
        servers += fmt::format("    server {} {}\n", node.id, address);
        // `:` cannot be in a node id, so these names never collide with the checked ones.
        backups += fmt::format("    server {}:any {} backup no-check\n", node.id, address);
    }
    const std::string listen = host_port("listen address", options.listen);

    // A retry must be able to reach every node: an imported key finds its owner by walking them.
    const std::size_t retries = std::max<std::size_t>(3, nodes.size() - 1);
    // Imported keys find their owner by walking the nodes: `balance random` with a redispatch
    // on every retry picks a node other than the last one at random, so each retry reaches the
    // owner with odds 1/(N-1). 10N retries leave ((N-2)/(N-1))^(10N) of missing it while
    // nothing moves: 0 for 2 nodes, 1e-9 for 3, 1e-5 for 10. A round-robin would share its turn
    // with every other connection, and a request could keep drawing the same two nodes.
    const std::size_t any_retries = std::clamp<std::size_t>(10 * nodes.size(), 3, 200);

    std::string config = fmt::format(
        "# ratelimitd cluster: {} nodes, {} groups (rlctl cluster haproxy-config)\n"
        "global\n"
        "    nbthread 1\n",
        nodes.size(), groups);
    if (!options.stats_socket.empty())
        config += fmt::format("    stats socket {} mode 600 level admin\n", options.stats_socket);
    config += fmt::format(
        "defaults\n"
        "    mode http\n"
        "    timeout connect 100ms\n"
        "    timeout client  30s\n"
        "    timeout server  {}ms\n"
        "    timeout check   200ms\n"
        "    retries {}\n"
        "    option redispatch 1\n"
        "    retry-on conn-failure empty-response 503\n"
        "    http-reuse safe\n"
        "frontend rl\n"
        "    bind {}\n"
        "    acl rl_key req.hdr(x-api-key) -m beg rl_\n"
        "    http-request set-var(txn.route) req.hdr(x-api-key),field(2,_) if rl_key\n"
        "    acl rl_routed var(txn.route) -m reg ^[0-9a-f]{{10}}$\n"
        "    use_backend %[var(txn.route),map_beg({},rl_any)] if rl_routed\n"
        "    default_backend rl_any\n",
        options.timeout_server.count(), retries, listen, options.map_path);
    for (std::uint32_t group = 0; group < groups; ++group)
        config += fmt::format(
            "backend {}\n"
            "    option httpchk GET /readyz?group={}\n"
            "    http-check expect status 200\n"
            "    option allbackups\n"
            "    default-server {}\n"
            "{}{}",
            backend_name(group), group, group_check, servers, backups);
    config += fmt::format(
        "backend rl_any\n"
        "    balance random\n"
        "    retries {}\n"
        "    option httpchk GET /readyz\n"
        "    http-check expect status 200\n"
        "    default-server {}\n"
        "{}",
        any_retries, any_check, servers);

    std::string group_map;
    for (unsigned byte = 0; byte < 256; ++byte)
        group_map += fmt::format(
            "{:02x} {}\n", byte,
            backend_name(layout::group_of_route_byte(static_cast<std::uint8_t>(byte), groups)));
    return {std::move(config), std::move(group_map)};
}

}  // namespace rl::cluster
