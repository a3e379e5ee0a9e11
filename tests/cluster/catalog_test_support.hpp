#pragma once
// For the tests of the catalog in etcd: a client for the test's etcd member, and an observer
// that writes down what it is told.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "admin/catalog.hpp"
#include "cluster/etcd_client.hpp"
#include "tests/support/etcd_member.hpp"

namespace rl::testing {

inline cluster::etcd_options options_for(const etcd_member& etcd) {
    cluster::etcd_options options;
    options.endpoints = {etcd.client_url()};
    options.connect_timeout = std::chrono::milliseconds(300);
    options.request_timeout = std::chrono::milliseconds(2000);
    return options;
}

// Records what it is told, as "user NAME", "-user NAME", "key ID", "revoked key ID", "plan
// NAME", "-plan NAME"; safe to read from another thread.
class catalog_observer_log final : public admin::catalog_observer {
public:
    void user_changed(const storage::user_record& user) override { note("user " + user.name); }
    void users_changed(const std::vector<storage::user_record>& users) override {
        for (const auto& user : users) note("user " + user.name);
    }
    void user_deleted(std::string_view name) override { note("-user " + std::string(name)); }
    void key_changed(const storage::key_record& key) override {
        note((key.revoked_at != 0 ? "revoked key " : "key ") + std::to_string(key.key_id));
    }
    void plan_changed(const storage::plan_record& plan) override { note("plan " + plan.name); }
    void plan_deleted(std::string_view name) override { note("-plan " + std::string(name)); }

    std::vector<std::string> calls() const {
        std::lock_guard lock(mutex_);
        return calls_;
    }
    // The calls so far, sorted, and forgotten.
    std::vector<std::string> take() {
        std::lock_guard lock(mutex_);
        auto calls = std::move(calls_);
        calls_.clear();
        std::sort(calls.begin(), calls.end());
        return calls;
    }

private:
    void note(std::string call) {
        std::lock_guard lock(mutex_);
        calls_.push_back(std::move(call));
    }
    mutable std::mutex mutex_;
    std::vector<std::string> calls_;
};

}  // namespace rl::testing
