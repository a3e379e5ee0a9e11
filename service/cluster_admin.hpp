#pragma once
// The admin API's cluster part: /v1/cluster/status, drain and undrain, and /v1/usage and
// /v1/usage/top summed over every member (each member answers its own with scope=local).

#include <optional>
#include <string>

#include "admin/admin_api.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/ownership.hpp"

namespace rl::service {

class group_seeds;

class cluster_admin {
public:
    cluster_admin(const cluster::ownership& owner, cluster::etcd_client& etcd,
                  const admin::admin_api& api, const group_seeds& seeds, std::string token)
        : owner_(owner), etcd_(etcd), api_(api), seeds_(seeds), token_(std::move(token)) {}

    // The answer for a cluster route, or nullopt for every other request (the admin API's).
    std::optional<admin::api_response> handle(const admin::api_request& request) const;

private:
    admin::api_response status() const;
    admin::api_response drain(const admin::api_request& request, bool on) const;
    admin::api_response summed_usage(const admin::api_request& request) const;

    const cluster::ownership& owner_;
    cluster::etcd_client& etcd_;
    const admin::admin_api& api_;
    const group_seeds& seeds_;
    std::string token_;
};

}  // namespace rl::service
