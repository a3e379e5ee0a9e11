#pragma once
// A catalog over a fresh store in a temporary directory, with an observer that records every
// change it is told about.

#include <memory>
#include <string>
#include <vector>

#include "admin/catalog.hpp"
#include "tests/support/temp_dir.hpp"

namespace rl::testing {

class recording_observer : public admin::catalog_observer {
public:
    // One line per notification: "user alice", "deleted alice", "key <key id>", "plan free",
    // "deleted plan free".
    std::vector<std::string> events;
    std::vector<storage::user_record> users;
    std::vector<storage::key_record> keys;
    std::vector<storage::plan_record> plans;

    void user_changed(const storage::user_record& user) override {
        events.push_back("user " + user.name);
        users.push_back(user);
    }
    void user_deleted(std::string_view name) override {
        events.push_back("deleted " + std::string(name));
    }
    void key_changed(const storage::key_record& key) override {
        events.push_back("key " + common::format_key_id(key.key_id));
        keys.push_back(key);
    }
    void plan_changed(const storage::plan_record& plan) override {
        events.push_back("plan " + plan.name);
        plans.push_back(plan);
    }
    void plan_deleted(std::string_view name) override {
        events.push_back("deleted plan " + std::string(name));
    }
};

struct admin_fixture {
    static constexpr std::uint32_t default_limit = 10;

    temp_dir tmp;
    std::string directory = tmp / "data";
    std::unique_ptr<storage::data_dir> db = storage::data_dir::open(directory);
    recording_observer observer;
    admin::catalog catalog{*db, default_limit, &observer};

    storage::user_record make_user(const std::string& name,
                                   std::optional<std::uint32_t> limit = std::nullopt) {
        auto r = catalog.create_user(name, limit);
        if (r.status != admin::outcome::created) throw std::runtime_error(r.message);
        return *r.value;
    }

    admin::created_key make_key(const std::string& user, const std::string& label = "") {
        auto r = catalog.create_key(user, label, 0);
        if (r.status != admin::outcome::created) throw std::runtime_error(r.message);
        return *r.value;
    }
};

}  // namespace rl::testing
