#pragma once
// Which groups this node may admit for, and when it must stop: a lease per node in etcd, one
// owner per group under its lease, and the fences that keep consecutive owners' admits more
// than the longest fenced window apart (shared/design/cluster.md §6.4, rules O1-O4).
//
// The request path calls check() and may_reply(): one atomic load each, no lock, no syscall
// beyond reading CLOCK_BOOTTIME (vDSO). Everything else runs on the ownership's own threads.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.hpp"
#include "cluster/fences.hpp"

namespace rl::cluster {

// CLOCK_BOOTTIME: counts a suspend, unlike steady_clock (CLOCK_MONOTONIC). boot_ns and gate
// are in fences.hpp.
boot_ns boot_now() noexcept;

// The cluster-wide timings in /rl/v1/config: every node uses the same ones.
struct cluster_settings {
    std::uint32_t groups = 32;
    std::chrono::milliseconds lease_ttl{3000};
    std::chrono::milliseconds keepalive{500};
    std::chrono::milliseconds fence{1250};             // F: O1 and O2
    std::chrono::milliseconds reply_deadline{250};     // O3
    std::chrono::milliseconds catalog_lag_stop{1000};  // O4
    std::uint32_t default_limit = 10;
};
// /rl/v1/config's JSON, both ways; parse throws std::invalid_argument with the reason
// (a fence below 1 s + reply deadline is accepted only when it is 0: the documented fast mode).
// {"groups":32,"lease_ttl_ms":3000,"keepalive_ms":500,"fence_ms":1250,"reply_deadline_ms":250,
//  "catalog_lag_stop_ms":1000,"default_limit":10}; a missing field takes its default.
std::string to_json(const cluster_settings& settings);
cluster_settings settings_from_json(const std::string& json);
// The checks settings_from_json applies, for a writer (rlctl cluster init) before it writes;
// throws std::invalid_argument with the reason.
void validate(const cluster_settings& settings);

struct node_address {
    std::string id;          // layout::is_valid_node_id
    std::string public_url;  // http://host:port
    std::string admin_url;   // http://host:port
};

struct group_status {
    std::uint32_t group = 0;
    std::string owner;  // as last seen in etcd; empty when unowned
    bool admitting = false;
};

struct ownership_status {
    std::string node;
    bool lease_held = false;
    double lease_remaining_s = 0;  // deadline - now, by this node's reckoning
    std::int64_t applied_revision = 0;
    std::int64_t seen_revision = 0;  // etcd's revision in the last keepalive reply
    bool draining = false;
    std::vector<group_status> groups;   // every group, 0..G-1
    std::vector<node_address> members;  // live members (members/ under leases)
    std::uint64_t fences = 0;           // times a group stopped admitting (O1, O4, lease lost)
    std::uint64_t acquisitions = 0;
    std::uint64_t releases = 0;
};

struct ownership_hooks {
    // The catalog revision this node's watch has applied (catalog_sync::applied_revision).
    std::function<std::int64_t()> applied_revision;
    // Called on an ownership thread after a group was acquired and the catalog holds the
    // acquiring revision, before the group admits: seed the windows of its users (longer
    // windows than the fence). May block; admission starts when it returns.
    std::function<void(std::uint32_t group)> before_admitting;
    std::function<void(const std::string&)> log;
};

class ownership {
public:
    // Throws std::invalid_argument for settings validate() refuses or an invalid node id.
    ownership(etcd_client& etcd, cluster_settings settings, node_address self,
              ownership_hooks hooks, std::chrono::milliseconds handback_after);
    ~ownership();  // stop()
    ownership(const ownership&) = delete;
    ownership& operator=(const ownership&) = delete;

    // Grants the lease, registers members/<id>, starts keepalives and campaigning. Throws
    // std::runtime_error when etcd cannot be reached.
    void start();
    // A planned stop: every owned group released (O2: stop admitting, wait F, delete), then the
    // lease revoked. The groups share one wait: bounded by F + a round trip per group owned.
    void stop();

    // Request path. `now` is a boot_now() read before the call; pass the same value to
    // may_reply as `decided` (O2's proof needs the decision time to precede the load).
    gate check(std::uint32_t group, boot_ns now) const noexcept;
    gate check(std::uint32_t group) const noexcept { return check(group, boot_now()); }
    // O3, at send time: may a 200 decided at `decided` (boot_now() then) still be sent?
    // Always true in the fast mode (fence 0).
    bool may_reply(std::uint32_t group, boot_ns decided) const noexcept;
    bool admitting(std::uint32_t group) const noexcept { return check(group) == gate::admit; }

    // Planned moves, driven through etcd (/rl/v1/drains/<node>) so that any node's admin API
    // can ask: a drained node releases its groups one at a time and takes none.
    ownership_status status() const;
    const cluster_settings& settings() const noexcept { return settings_; }
    const node_address& self() const noexcept { return self_; }

private:
    struct impl;
    etcd_client& etcd_;
    cluster_settings settings_;
    node_address self_;
    std::unique_ptr<impl> impl_;
};

}  // namespace rl::cluster
