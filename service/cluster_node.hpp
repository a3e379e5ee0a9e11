#pragma once
// One ratelimitd node of a cluster (docs/cluster.md): the etcd client, the cluster-wide
// settings, the catalog kept from etcd, the catalog writer and the ownership of groups, started
// and stopped in the order the guarantees need.

#include <functional>
#include <memory>
#include <string>

#include "admin/catalog_writer.hpp"
#include "cluster/catalog_sync.hpp"
#include "cluster/etcd_catalog_writer.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/ownership.hpp"
#include "service/config.hpp"
#include "storage/data_dir.hpp"

namespace rl::service {

class group_seeds;
class key_index;
class limit_handler;

class cluster_node {
public:
    using log_function = std::function<void(const std::string&)>;

    // Reads /rl/v1/config. Throws config_error when it is missing or invalid ("run rlctl
    // cluster init"), std::runtime_error when etcd cannot be reached.
    cluster_node(const config& cfg, log_function log);
    ~cluster_node();

    const cluster::cluster_settings& settings() const noexcept { return settings_; }

    // Brings the RocksDB catalog cache up to etcd (before the key index loads from it) and
    // makes the writer the catalog writes through.
    void open_catalog(storage::data_dir& store, key_index& keys);
    admin::catalog_writer& writer() noexcept { return *writer_; }

    // After the key index is loaded: follows the catalog, registers, campaigns; `limit` admits
    // only for the groups held from then on. Before a group admits here, the windows longer
    // than 1 s of its users are rebuilt from every member's counts (`seeds`, asked with
    // `token`).
    void start(limit_handler& limit, group_seeds& seeds, const std::string& token);
    // A planned stop: the groups released (rule O2), the lease revoked, the watch ended.
    void stop();

    cluster::ownership& ownership() noexcept { return *ownership_; }
    cluster::etcd_client& etcd() noexcept { return etcd_; }

private:
    void seed_group(std::uint32_t group, group_seeds& seeds, const std::string& token);

    const config& cfg_;
    log_function log_;
    cluster::etcd_client etcd_;
    cluster::cluster_settings settings_;
    std::unique_ptr<cluster::catalog_sync> sync_;
    std::unique_ptr<cluster::etcd_catalog_writer> writer_;
    std::unique_ptr<cluster::ownership> ownership_;
};

}  // namespace rl::service
