#pragma once
// The admin API's cluster part: /v1/cluster/status, drain and undrain, and /v1/usage and
// /v1/usage/top summed over every member (each member answers its own with scope=local).

#include <optional>
#include <string>

#include "admin/admin_api.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/ownership.hpp"

namespace rl::service {

class cluster_node;
class group_seeds;

class cluster_admin {
public:
    // Ready before the node has joined: until then its routes answer 503.
    cluster_admin(cluster_node& node, const admin::admin_api& api, const group_seeds& seeds,
                  std::string token)
        : node_(node), api_(api), seeds_(seeds), token_(std::move(token)) {}

    // The answer for a cluster route, or nullopt for every other request (the admin API's).
    std::optional<admin::api_response> handle(const admin::api_request& request) const;

private:
    admin::api_response status(const cluster::ownership& owner) const;
    admin::api_response drain(const admin::api_request& request, bool on) const;
    admin::api_response summed_usage(const cluster::ownership& owner,
                                     const admin::api_request& request) const;

    cluster_node& node_;
    const admin::admin_api& api_;
    const group_seeds& seeds_;
    std::string token_;
};

}  // namespace rl::service
