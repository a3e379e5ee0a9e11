#pragma once
// The admin catalog's writes in cluster mode: etcd transactions under one cluster-wide catalog
// lock (/rl/v1/catalog_lock), each returning only once this node's cache holds it and every
// live member has acknowledged it (acks/<node>), or a bounded wait for them has passed
// (design §6.7: a member that cannot ack stops admitting by then, rules O1/O4).

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/catalog_writer.hpp"
#include "cluster/catalog_sync.hpp"
#include "cluster/etcd_client.hpp"

namespace rl::cluster {

struct catalog_writer_options {
    std::int64_t lock_ttl_s = 10;                // the lock's lease
    std::chrono::milliseconds lock_wait{10000};  // then begin() gives up
    std::chrono::milliseconds lock_retry{20};    // while another node holds it
    std::chrono::milliseconds apply_wait{5000};  // for this node's watch
    std::chrono::milliseconds ack_wait{2000};    // for the other members
    std::chrono::milliseconds ack_poll{5};
    std::size_t ops_per_txn = 100;  // etcd's --max-txn-ops is 128
};

class etcd_catalog_writer final : public admin::catalog_writer {
public:
    // `sync` is this node's, started; `cache` is the catalog it keeps (delete_user finds the
    // user's keys there).
    etcd_catalog_writer(etcd_client& etcd, catalog_sync& sync, storage::catalog_store& cache,
                        std::string node_id, catalog_writer_options options = {});

    // Takes the catalog lock (waiting while another node holds it) and returns once this node
    // has applied the lock's revision, so the catalog read here holds every earlier write.
    // Throws storage::storage_error: errc::locked when the lock stays held, io_error for etcd.
    std::unique_ptr<admin::write_turn> begin() override;

    void put_plan(const storage::plan_record& plan) override;
    void delete_plan(std::string_view name) override;
    void put_user(const storage::user_record& user) override;
    void delete_user(std::string_view name) override;
    void put_key(const storage::key_record& key) override;
    void write(const storage::catalog_batch& batch) override;

    // Of the last write call: its final revision, and the live members that had not acked it
    // when the wait ended (empty: everyone had).
    std::int64_t last_revision() const;
    std::vector<std::string> last_unacked() const;

private:
    class turn;
    friend class turn;
    void commit(const std::vector<txn_op>& ops);  // in txns of at most ops_per_txn
    std::int64_t commit_one(const std::vector<txn_op>& ops);
    void settle(std::int64_t revision);  // this node, then every member
    void renew_if_due();
    void release() noexcept;

    etcd_client& etcd_;
    catalog_sync& sync_;
    storage::catalog_store& cache_;
    std::string node_;
    catalog_writer_options options_;

    std::mutex turn_mutex_;  // one turn per node at a time; etcd's lock serialises the nodes
    // The current turn's lock (valid while turn_mutex_ is held).
    std::int64_t lease_ = 0;
    std::int64_t lock_revision_ = 0;
    std::chrono::steady_clock::time_point renewed_{};

    mutable std::mutex result_mutex_;
    std::int64_t last_revision_ = 0;
    std::vector<std::string> last_unacked_;
};

}  // namespace rl::cluster
