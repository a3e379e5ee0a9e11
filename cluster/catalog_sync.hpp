#pragma once
// A node's copy of the catalog in etcd: a RocksDB cache (the data directory's catalog, with the
// etcd revision it holds everything up to) kept current by one watch of /rl/v1/, and the
// observer (the key index) told of every change once it is in the cache.
//
// It also publishes how far it got: acks/<node> = the revision of the last applied catalog
// change, under a lease of its own, so that a writer can wait for every member
// (etcd_catalog_writer).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "admin/catalog.hpp"
#include "cluster/etcd_client.hpp"
#include "storage/data_dir.hpp"

namespace rl::cluster {

class catalog_sync {
public:
    using log_function = std::function<void(const std::string&)>;

    catalog_sync(etcd_client& etcd, storage::data_dir& store, admin::catalog_observer& observer,
                 std::string node_id, log_function log);
    ~catalog_sync();  // stop()
    catalog_sync(const catalog_sync&) = delete;
    catalog_sync& operator=(const catalog_sync&) = delete;

    // Brings the cache up to etcd: kept as it is when etcd still has the history after its
    // revision (the watch catches up), else replaced by a paged read of the whole catalog at one
    // revision. Tells the observer nothing: call it before the key index loads from the cache.
    // Throws storage::storage_error when etcd cannot be read or the cache written, and (errc
    // exists) when the data directory holds a single node's catalog while etcd's is empty.
    void load();
    // Watches /rl/v1/ from applied_revision() + 1 on threads of its own, applying each update
    // to the cache and then to the observer; a compacted history reloads everything (the
    // observer told of every difference). Also writes acks/<node>. Call after load().
    void start();
    // Stops watching and revokes the ack lease (acks/<node> goes). Idempotent.
    void stop();

    // Everything in etcd up to this revision is in the cache and the observer (catalog changes
    // and everything else under /rl/v1/, e.g. owners/ puts).
    std::int64_t applied_revision() const noexcept { return applied_.load(); }
    // True once applied_revision() >= revision; false after `timeout`.
    bool wait_applied(std::int64_t revision, std::chrono::milliseconds timeout) const;
    // How many full reloads ran (load's included).
    std::uint64_t full_reloads() const noexcept { return reloads_.load(); }
    const std::string& node_id() const noexcept { return node_; }

private:
    void reload(bool tell_observer);
    void apply(const watch_update& update);
    void set_applied(std::int64_t revision, bool catalog_changed);
    void run_watch();
    void run_acks();

    etcd_client& etcd_;
    storage::data_dir& store_;
    admin::catalog_observer& observer_;
    std::string node_;
    log_function log_;

    std::atomic<std::int64_t> applied_{0};
    std::atomic<std::uint64_t> reloads_{0};
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;  // applied_, ack_target_, stopping_, watch_ended_
    std::int64_t ack_target_ = 0;              // the applied revision as of the last catalog change
    std::int64_t persisted_ = 0;               // the revision last written to the cache
    std::chrono::steady_clock::time_point persisted_at_{};
    bool stopping_ = false;
    bool started_ = false;
    std::optional<etcd_error> watch_ended_;  // set when the watch stopped for good
    std::thread watcher_;
    std::thread acker_;
};

}  // namespace rl::cluster
