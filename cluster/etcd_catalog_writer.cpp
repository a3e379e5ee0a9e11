#include "cluster/etcd_catalog_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <thread>

#include "cluster/catalog_records.hpp"
#include "cluster/layout.hpp"

namespace rl::cluster {

namespace {

using storage::storage_errc;
using storage::storage_error;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void fail(const etcd_error& error, std::string_view doing) {
    throw storage_error(storage_errc::io_error, fmt::format("etcd: {}: {}", doing, error.message));
}

std::string lock_key() {
    return std::string(layout::catalog_lock_key);
}

// The node ids under a prefix (members/, acks/) with their values.
std::vector<std::pair<std::string, std::string>> entries_of(etcd_client& etcd,
                                                            std::string_view prefix,
                                                            bool keys_only) {
    range_options options;
    options.keys_only = keys_only;
    auto got = etcd.get_prefix(std::string(prefix), options);
    if (!got) fail(got.error(), fmt::format("read {}", prefix));
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& kv : got->kvs) entries.emplace_back(kv.key.substr(prefix.size()), kv.value);
    return entries;
}

std::int64_t revision_of(const std::string& text) {
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    return text.empty() || *end != '\0' ? 0 : value;
}

}  // namespace

// Holds this node's turn and the cluster's lock; giving it back revokes the lock's lease.
class etcd_catalog_writer::turn final : public admin::write_turn {
public:
    turn(etcd_catalog_writer& writer, std::unique_lock<std::mutex> local)
        : writer_(writer), local_(std::move(local)) {}
    ~turn() override { writer_.release(); }

private:
    etcd_catalog_writer& writer_;
    std::unique_lock<std::mutex> local_;
};

etcd_catalog_writer::etcd_catalog_writer(etcd_client& etcd, catalog_sync& sync,
                                         storage::catalog_store& cache, std::string node_id,
                                         catalog_writer_options options)
    : etcd_(etcd), sync_(sync), cache_(cache), node_(std::move(node_id)), options_(options) {}

std::unique_ptr<admin::write_turn> etcd_catalog_writer::begin() {
    std::unique_lock local(turn_mutex_);
    auto granted = etcd_.lease_grant(options_.lock_ttl_s);
    if (!granted) fail(granted.error(), "grant the catalog lock's lease");
    const std::int64_t lease = granted->id;
    const auto give_up = clock_type::now() + options_.lock_wait;
    for (;;) {
        auto taken = etcd_.txn({txn_compare::absent(lock_key())},
                               {txn_op::put(lock_key(), node_, lease)}, {txn_op::get(lock_key())});
        if (!taken) {
            etcd_.lease_revoke(lease);
            fail(taken.error(), "take the catalog lock");
        }
        if (taken->succeeded) {
            lock_revision_ = taken->revision;
            break;
        }
        if (clock_type::now() >= give_up) {
            etcd_.lease_revoke(lease);
            const std::string holder = taken->kvs.empty() ? "?" : taken->kvs.front().value;
            throw storage_error(
                storage_errc::locked,
                fmt::format("the catalog lock ({}) is held by node '{}' for more than {} ms; "
                            "retry later",
                            layout::catalog_lock_key, holder, options_.lock_wait.count()));
        }
        std::this_thread::sleep_for(options_.lock_retry);
    }
    lease_ = lease;
    renewed_ = clock_type::now();
    if (!sync_.wait_applied(lock_revision_, options_.apply_wait)) {
        release();
        throw storage_error(
            storage_errc::io_error,
            fmt::format("this node's catalog has not reached revision {} within "
                        "{} ms (at {})",
                        lock_revision_, options_.apply_wait.count(), sync_.applied_revision()));
    }
    return std::make_unique<turn>(*this, std::move(local));
}

void etcd_catalog_writer::release() noexcept {
    if (lease_ != 0) etcd_.lease_revoke(lease_);  // the lock goes with its lease
    lease_ = 0;
    lock_revision_ = 0;
}

void etcd_catalog_writer::renew_if_due() {
    if (clock_type::now() - renewed_ < std::chrono::seconds(options_.lock_ttl_s) / 3) return;
    auto renewal = etcd_.lease_keepalive(lease_);
    if (!renewal) fail(renewal.error(), "renew the catalog lock");
    renewed_ = clock_type::now();
}

std::int64_t etcd_catalog_writer::commit_one(const std::vector<txn_op>& ops) {
    renew_if_due();
    auto done = etcd_.txn({txn_compare::value_is(lock_key(), node_),
                           txn_compare::mod_revision_is(lock_key(), lock_revision_)},
                          ops);
    if (!done) fail(done.error(), "write the catalog");
    if (!done->succeeded)
        throw storage_error(storage_errc::locked,
                            "the catalog lock was lost (its lease expired); nothing more written");
    return done->revision;
}

void etcd_catalog_writer::commit(const std::vector<txn_op>& ops) {
    if (lease_ == 0)
        throw storage_error(storage_errc::locked, "a catalog write outside a write turn");
    std::int64_t revision = 0;
    for (std::size_t at = 0; at < ops.size(); at += options_.ops_per_txn) {
        const auto end = std::min(ops.size(), at + options_.ops_per_txn);
        revision = commit_one(std::vector<txn_op>(ops.begin() + at, ops.begin() + end));
    }
    if (revision != 0) settle(revision);
}

void etcd_catalog_writer::settle(std::int64_t revision) {
    if (!sync_.wait_applied(revision, options_.apply_wait))
        throw storage_error(storage_errc::io_error,
                            fmt::format("committed at revision {}, but this node's catalog has "
                                        "not applied it within {} ms",
                                        revision, options_.apply_wait.count()));
    const auto give_up = clock_type::now() + options_.ack_wait;
    std::vector<std::string> waiting;
    for (;;) {
        // Members are read each time: one that went meanwhile is no longer waited for.
        std::set<std::string> members;
        for (auto& [id, value] : entries_of(etcd_, layout::members_prefix, true))
            if (id != node_) members.insert(id);
        for (const auto& [id, value] : entries_of(etcd_, layout::acks_prefix, false))
            if (revision_of(value) >= revision) members.erase(id);
        waiting.assign(members.begin(), members.end());
        if (waiting.empty() || clock_type::now() >= give_up) break;
        std::this_thread::sleep_for(options_.ack_poll);
    }
    std::lock_guard lock(result_mutex_);
    last_revision_ = revision;
    last_unacked_ = std::move(waiting);
}

std::int64_t etcd_catalog_writer::last_revision() const {
    std::lock_guard lock(result_mutex_);
    return last_revision_;
}

std::vector<std::string> etcd_catalog_writer::last_unacked() const {
    std::lock_guard lock(result_mutex_);
    return last_unacked_;
}

void etcd_catalog_writer::put_plan(const storage::plan_record& plan) {
    commit({put_of(plan)});
}

void etcd_catalog_writer::delete_plan(std::string_view name) {
    commit({txn_op::erase(layout::plan_key(name))});
}

void etcd_catalog_writer::put_user(const storage::user_record& user) {
    commit({put_of(user)});
}

// The keys first and the user last, so etcd never holds a key without its user, even when a
// call is cut short.
void etcd_catalog_writer::delete_user(std::string_view name) {
    std::vector<txn_op> ops;
    cache_.for_each_key([&](const storage::key_record& key) {
        if (key.user == name) ops.push_back(txn_op::erase(etcd_key_of(key)));
    });
    ops.push_back(txn_op::erase(layout::user_key(name)));
    commit(ops);
}

void etcd_catalog_writer::put_key(const storage::key_record& key) {
    commit({put_of(key)});
}

void etcd_catalog_writer::write(const storage::catalog_batch& batch) {
    std::vector<txn_op> ops;
    ops.reserve(batch.plans.size() + batch.users.size() + batch.keys.size());
    for (const auto& plan : batch.plans) ops.push_back(put_of(plan));
    for (const auto& user : batch.users) ops.push_back(put_of(user));
    for (const auto& key : batch.keys) ops.push_back(put_of(key));
    commit(ops);
}

}  // namespace rl::cluster
