#include "storage/data_dir.hpp"

#include "storage/database.hpp"

namespace rl::storage {

std::unique_ptr<data_dir> data_dir::open(const std::string& path, const open_options& options) {
    return std::unique_ptr<data_dir>(new data_dir(database::open(path, options.disk)));
}

data_dir::data_dir(std::unique_ptr<database> db)
    : db_(std::move(db)), catalog_(*db_), usage_(*db_) {}
data_dir::~data_dir() = default;

storage_health& data_dir::health() noexcept {
    return db_->health();
}
const storage_health& data_dir::health() const noexcept {
    return db_->health();
}

bool data_dir::resume(std::string* error) noexcept {
    return db_->resume(error);
}

void data_dir::flush() {
    db_->flush();
}

void data_dir::compact() {
    db_->compact();
}

std::uint64_t data_dir::table_bytes() const {
    return db_->table_bytes();
}

backup_manifest data_dir::backup(const std::string& target) const {
    return db_->backup(target);
}

const std::string& data_dir::directory() const noexcept {
    return db_->directory();
}

}  // namespace rl::storage
