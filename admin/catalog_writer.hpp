#pragma once
// Where the catalog's writes go. One node: its own RocksDB, then the observer (local_writer,
// below). Cluster mode: etcd, then every node's watch applies the change to its RocksDB cache
// and its key index (cluster/etcd_catalog_writer.hpp). Every call returns once the change is
// durable and this node's key index follows it; failures throw storage::storage_error.

#include <memory>
#include <mutex>
#include <string_view>

#include "storage/catalog_store.hpp"

namespace rl::admin {

class catalog_observer;

// Held for one check-then-write: while a turn lasts, the catalog this node reads is current
// (it holds every change committed before the turn began) and nobody else writes, on any node.
class write_turn {
public:
    virtual ~write_turn() = default;
};

class catalog_writer {
public:
    virtual ~catalog_writer() = default;

    // Throws storage::storage_error when a turn cannot be had (etcd unreachable, say).
    virtual std::unique_ptr<write_turn> begin() = 0;

    // Each of these is called inside a turn.
    virtual void put_plan(const storage::plan_record& plan) = 0;
    virtual void delete_plan(std::string_view name) = 0;
    virtual void put_user(const storage::user_record& user) = 0;
    // The user and every key of theirs.
    virtual void delete_user(std::string_view name) = 0;
    virtual void put_key(const storage::key_record& key) = 0;
    // Plans, users and keys together (bulk import, restore): one atomic write on one node; in
    // cluster mode transactions of at most 100 records, applied in order.
    virtual void write(const storage::catalog_batch& batch) = 0;
};

// One node: RocksDB, synced, then the observer told (key_index follows at once).
class local_writer final : public catalog_writer {
public:
    local_writer(storage::catalog_store& store, catalog_observer* observer)
        : store_(store), observer_(observer) {}

    std::unique_ptr<write_turn> begin() override;
    void put_plan(const storage::plan_record& plan) override;
    void delete_plan(std::string_view name) override;
    void put_user(const storage::user_record& user) override;
    void delete_user(std::string_view name) override;
    void put_key(const storage::key_record& key) override;
    void write(const storage::catalog_batch& batch) override;

private:
    storage::catalog_store& store_;
    catalog_observer* observer_;
    std::mutex mutex_;  // check-then-write must not interleave
};

}  // namespace rl::admin
