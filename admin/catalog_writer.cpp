#include "admin/catalog_writer.hpp"

#include "admin/catalog.hpp"

namespace rl::admin {

namespace {

class local_turn final : public write_turn {
public:
    explicit local_turn(std::mutex& mutex) : lock_(mutex) {}

private:
    std::lock_guard<std::mutex> lock_;
};

}  // namespace

std::unique_ptr<write_turn> local_writer::begin() {
    return std::make_unique<local_turn>(mutex_);
}

void local_writer::put_plan(const storage::plan_record& plan) {
    store_.put_plan(plan);
    if (observer_) observer_->plan_changed(plan);
}

void local_writer::delete_plan(std::string_view name) {
    store_.delete_plan(name);
    if (observer_) observer_->plan_deleted(name);
}

void local_writer::put_user(const storage::user_record& user) {
    store_.put_user(user);
    if (observer_) observer_->user_changed(user);
}

void local_writer::delete_user(std::string_view name) {
    store_.delete_user(name);
    if (observer_) observer_->user_deleted(name);
}

void local_writer::put_key(const storage::key_record& key) {
    store_.put_key(key);
    if (observer_) observer_->key_changed(key);
}

void local_writer::write(const storage::catalog_batch& batch) {
    store_.write(batch);
    if (!observer_) return;
    for (const auto& plan : batch.plans) observer_->plan_changed(plan);
    observer_->users_changed(batch.users);
    for (const auto& key : batch.keys) observer_->key_changed(key);
}

}  // namespace rl::admin
