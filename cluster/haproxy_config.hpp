#pragma once
// The HAProxy configuration and group map that route each request to its group's owner
// (`rlctl cluster haproxy-config`): a pure function of the node list and the group count.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rl::cluster {

struct haproxy_node {
    std::string id;              // the node id, used as the server name
    std::string public_address;  // where /limit is served: "host:port" or "http://host:port"
};

struct haproxy_options {
    std::string listen = "127.0.0.1:8090";
    // The nodes' reply deadline: HAProxy gives up on a node no later than the node itself would.
    std::chrono::milliseconds timeout_server{250};
    std::string map_path = "/etc/haproxy/rl-groups.map";  // where the map will be installed
    std::string stats_socket = "/run/haproxy/rl.sock";    // "" leaves the socket out
};

struct haproxy_files {
    std::string config;     // haproxy.cfg
    std::string group_map;  // rl-groups.map: the first byte of a route, in hex → its backend
};

// Throws std::invalid_argument, with a line fit for the user, on no nodes, a repeated or
// invalid node id, an address that is not host:port, or a group count out of range.
haproxy_files render_haproxy_config(const std::vector<haproxy_node>& nodes, std::uint32_t groups,
                                    const haproxy_options& options = {});

}  // namespace rl::cluster
