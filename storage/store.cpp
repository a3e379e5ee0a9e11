#include "storage/store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "storage/codec.hpp"
#include "storage/usage_merge_operator.hpp"

namespace rl::storage {

namespace {

// Column families: the names are the on-disk contract.
constexpr const char* cf_users = "users";          // user name -> user record
constexpr const char* cf_keys = "api_keys";        // sha256(key) -> key record
constexpr const char* cf_key_ids = "api_key_ids";  // be64 key_id -> sha256(key)
constexpr const char* cf_usage = "usage_1s";       // be64 second, be64 key_id -> counts
constexpr const char* meta_schema_version = "schema_version";

std::string_view view(const key_hash& hash) {
    return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

[[noreturn]] void fail(const rocksdb::Status& status, std::string_view doing) {
    const std::string what = std::string(doing) + ": " + status.ToString();
    // RocksDB reports a held LOCK file as an I/O error: "While lock file: ..." when another
    // process holds it, "lock hold by current process" when this one does.
    const std::string text = status.ToString();
    if (status.IsIOError() && (text.find("While lock file") != std::string::npos ||
                               text.find("lock hold by current process") != std::string::npos))
        throw storage_error(storage_errc::locked, what);
    if (status.IsCorruption()) throw storage_error(storage_errc::corruption, what);
    throw storage_error(storage_errc::io_error, what);
}

void check(const rocksdb::Status& status, std::string_view doing) {
    if (!status.ok()) fail(status, doing);
}

// RocksDB's own LOG, written with plain write(2). RocksDB's buffered file writer aborts the
// process (an assertion Debian's build keeps) when it is used again after a failed write, and a
// full disk makes that certain for the LOG, which is written on every error. A line that cannot
// be written is dropped instead.
class plain_log : public rocksdb::Logger {
public:
    static constexpr std::uintmax_t rotate_at = 16 << 20;

    explicit plain_log(const std::string& path) : Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {
        std::error_code ec;
        if (std::filesystem::file_size(path, ec) > rotate_at && !ec)
            std::filesystem::rename(path, path + ".old", ec);
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    }
    ~plain_log() override {
        if (fd_ >= 0) ::close(fd_);
    }

    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override {
        if (fd_ < 0) return;
        char line[2048];
        const auto now = std::chrono::system_clock::now();
        const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
            1'000'000;
        std::tm utc{};
        ::gmtime_r(&seconds, &utc);
        std::size_t n = std::strftime(line, sizeof line, "%Y/%m/%d-%H:%M:%S", &utc);
        n += static_cast<std::size_t>(
            std::snprintf(line + n, sizeof line - n, ".%06lld ", static_cast<long long>(micros)));
        const int body = std::vsnprintf(line + n, sizeof line - n, format, ap);
        if (body > 0) n = std::min(sizeof line - 1, n + static_cast<std::size_t>(body));
        if (line[n - 1] != '\n') line[n++] = '\n';
        [[maybe_unused]] const auto written = ::write(fd_, line, n);
    }

private:
    int fd_ = -1;
};

// The error a faulty disk gives right now, checked before the real call so a refused call writes
// nothing.
std::optional<rocksdb::IOStatus> refusal(faulty_disk& disk) {
    switch (disk.fault()) {
        case disk_fault::none: return std::nullopt;
        case disk_fault::io_error:
            disk.count_refusal();
            return rocksdb::IOStatus::IOError("injected write fault");
        case disk_fault::no_space:
            disk.count_refusal();
            return rocksdb::IOStatus::NoSpace("injected disk full");
    }
    return std::nullopt;
}

// Fails every write, sync and file creation while the test's faulty_disk says so.
class faulty_file : public rocksdb::FSWritableFileOwnerWrapper {
public:
    faulty_file(std::unique_ptr<rocksdb::FSWritableFile> file, faulty_disk& disk)
        : FSWritableFileOwnerWrapper(std::move(file)), disk_(disk) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Append(data, options, dbg));
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Append(data, options, info, dbg));
    }
    rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Flush(options, dbg));
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Sync(options, dbg));
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
        return refused().value_or(FSWritableFileOwnerWrapper::Fsync(options, dbg));
    }

private:
    std::optional<rocksdb::IOStatus> refused() { return refusal(disk_); }
    faulty_disk& disk_;
};

class faulty_file_system : public rocksdb::FileSystemWrapper {
public:
    explicit faulty_file_system(std::shared_ptr<faulty_disk> disk)
        : FileSystemWrapper(rocksdb::FileSystem::Default()), disk_(std::move(disk)) {}
    const char* Name() const override { return "rl_faulty_disk"; }

    rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* dbg) override {
        if (auto error = refusal(*disk_)) return *error;
        return wrap(FileSystemWrapper::NewWritableFile(name, options, file, dbg), file);
    }
    rocksdb::IOStatus ReopenWritableFile(const std::string& name,
                                         const rocksdb::FileOptions& options,
                                         std::unique_ptr<rocksdb::FSWritableFile>* file,
                                         rocksdb::IODebugContext* dbg) override {
        if (auto error = refusal(*disk_)) return *error;
        return wrap(FileSystemWrapper::ReopenWritableFile(name, options, file, dbg), file);
    }
    rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSWritableFile>* file,
                                        rocksdb::IODebugContext* dbg) override {
        if (auto error = refusal(*disk_)) return *error;
        return wrap(FileSystemWrapper::ReuseWritableFile(name, old_name, options, file, dbg), file);
    }

private:
    rocksdb::IOStatus wrap(rocksdb::IOStatus status,
                           std::unique_ptr<rocksdb::FSWritableFile>* file) {
        if (status.ok()) *file = std::make_unique<faulty_file>(std::move(*file), *disk_);
        return status;
    }
    std::shared_ptr<faulty_disk> disk_;
};

[[noreturn]] void corrupt(std::string_view what) {
    throw storage_error(storage_errc::corruption, "cannot decode " + std::string(what));
}

}  // namespace

struct store::impl {
    std::string directory;
    std::unique_ptr<rocksdb::Env> env;  // tests' faulty disk; declared first, so it outlives db
    rocksdb::DBOptions db_options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    // Held shared by every use of db, exclusively by reopen(): after a fatal write error RocksDB
    // must be closed and opened again, and nothing may use it meanwhile.
    mutable std::shared_mutex gate;
    std::unique_ptr<rocksdb::DB> db;                    // null while a reopen has failed
    std::vector<rocksdb::ColumnFamilyHandle*> handles;  // default, users, keys, key_ids, usage
    rocksdb::WriteOptions synced;
    rocksdb::WriteOptions logged;  // in the WAL, not fsynced

    rocksdb::ColumnFamilyHandle* meta() const { return handles[0]; }
    rocksdb::ColumnFamilyHandle* users() const { return handles[1]; }
    rocksdb::ColumnFamilyHandle* keys() const { return handles[2]; }
    rocksdb::ColumnFamilyHandle* key_ids() const { return handles[3]; }
    rocksdb::ColumnFamilyHandle* usage() const { return handles[4]; }

    ~impl() { close(); }

    // The database, shared-locked for the caller's use; throws while it is closed.
    std::shared_lock<std::shared_mutex> use() const {
        std::shared_lock lock(gate);
        if (!db)
            throw storage_error(storage_errc::io_error,
                                "storage is closed after a write failure and not yet reopened");
        return lock;
    }

    rocksdb::Status open_db() {
        rocksdb::DB* raw = nullptr;
        auto status = rocksdb::DB::Open(db_options, directory, families, &handles, &raw);
        db.reset(raw);
        return status;
    }

    void close() noexcept {
        if (!db) return;
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
        handles.clear();
        db->Close();  // a failure here changes nothing: what is in the WAL is replayed on open
        db.reset();
    }

    // Closes and opens the database again: the way out of an error RocksDB cannot resume from.
    rocksdb::Status reopen() {
        std::unique_lock lock(gate);
        close();
        return open_db();
    }

    void put_key(rocksdb::WriteBatch& batch, const key_record& key) {
        batch.Put(keys(), view(key.hash), codec::encode_key(key));
        batch.Put(key_ids(), codec::encode_key_id(key.key_id), view(key.hash));
    }
};

std::unique_ptr<store> store::open(const std::string& directory, const store_options& options) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec)
        throw storage_error(storage_errc::io_error,
                            "cannot create " + directory + ": " + ec.message());
    ::chmod(directory.c_str(), 0700);  // keys are hashed, but usage and names are private too
    const bool fresh = !std::filesystem::exists(std::filesystem::path(directory) / "CURRENT");

    auto state = std::make_unique<impl>();
    state->directory = directory;
    rocksdb::DBOptions& db_options = state->db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.keep_log_file_num = 5;
    db_options.max_background_jobs = 2;
    db_options.allow_concurrent_memtable_write = false;  // required by the vector memtable
    db_options.info_log = std::make_shared<plain_log>(directory + "/LOG");

    rocksdb::ColumnFamilyOptions catalog_options;
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    catalog_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

    rocksdb::ColumnFamilyOptions usage_options;
    usage_options.merge_operator = std::make_shared<usage_merge_operator>();
    // The request path only appends usage; it is read by reports and at startup. An append-only
    // vector memtable (sorted when flushed) makes each write O(1) instead of a skip-list insert.
    usage_options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    // Smaller than the 64 MiB default: usage is write-only on the request path, so a memtable
    // buys nothing by being large, and two of them would otherwise hold 128 MiB of RSS.
    usage_options.write_buffer_size = 16 << 20;
    // Keys arrive in time order; old ones are removed by range tombstones, and periodic
    // compaction makes sure the files behind them are rewritten even without new writes.
    usage_options.periodic_compaction_seconds = 24 * 3600;

    state->families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {cf_users, catalog_options},
        {cf_keys, catalog_options},
        {cf_key_ids, catalog_options},
        {cf_usage, usage_options},
    };

    if (options.disk) {
        state->env = rocksdb::NewCompositeEnv(std::make_shared<faulty_file_system>(options.disk));
        db_options.env = state->env.get();
    }
    state->synced.sync = true;
    check(state->open_db(), "open " + directory);

    std::string version;
    const auto status =
        state->db->Get(rocksdb::ReadOptions(), state->meta(), meta_schema_version, &version);
    if (status.IsNotFound() && fresh) {
        check(state->db->Put(state->synced, state->meta(), meta_schema_version,
                             std::to_string(schema_version)),
              "write schema version");
    } else if (!status.ok() && !status.IsNotFound()) {
        fail(status, "read schema version");
    } else if (version != std::to_string(schema_version)) {
        throw storage_error(storage_errc::schema_mismatch,
                            directory + " has schema version '" + version +
                                "', this build reads version " + std::to_string(schema_version));
    }
    return std::unique_ptr<store>(new store(std::move(state)));
}

store::store(std::unique_ptr<impl> state) : impl_(std::move(state)) {}
store::~store() = default;

const std::string& store::directory() const noexcept {
    return impl_->directory;
}

std::optional<user_record> store::find_user(std::string_view name) const {
    const auto lock = impl_->use();
    std::string bytes;
    const auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->users(), name, &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read user");
    auto user = codec::decode_user(name, bytes);
    if (!user) corrupt("user record");
    return user;
}

std::vector<user_record> store::list_users() const {
    const auto lock = impl_->use();
    std::vector<user_record> users;
    std::unique_ptr<rocksdb::Iterator> it(
        impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->users()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto user = codec::decode_user(it->key().ToStringView(), it->value().ToStringView());
        if (!user) corrupt("user record");
        users.push_back(std::move(*user));
    }
    check(it->status(), "list users");
    return users;
}

void store::put_user(const user_record& user) {
    const auto lock = impl_->use();
    check(impl_->db->Put(impl_->synced, impl_->users(), user.name, codec::encode_user(user)),
          "write user");
}

void store::delete_user(std::string_view name) {
    std::vector<key_record> keys;  // collected first: the scan and the write each lock once
    for_each_key([&](const key_record& key) {
        if (key.user == name) keys.push_back(key);
    });
    const auto lock = impl_->use();
    rocksdb::WriteBatch batch;
    batch.Delete(impl_->users(), name);
    for (const auto& key : keys) {
        batch.Delete(impl_->keys(), view(key.hash));
        batch.Delete(impl_->key_ids(), codec::encode_key_id(key.key_id));
    }
    check(impl_->db->Write(impl_->synced, &batch), "delete user");
}

std::optional<key_record> store::find_key(const key_hash& hash) const {
    const auto lock = impl_->use();
    std::string bytes;
    const auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->keys(), view(hash), &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read key");
    auto key = codec::decode_key(view(hash), bytes);
    if (!key) corrupt("key record");
    return key;
}

std::optional<key_record> store::find_key_by_id(std::uint64_t key_id) const {
    key_hash h;
    {
        const auto lock = impl_->use();
        std::string hash;
        const auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->key_ids(),
                                           codec::encode_key_id(key_id), &hash);
        if (status.IsNotFound()) return std::nullopt;
        check(status, "read key id");
        if (hash.size() != sizeof(key_hash)) corrupt("key id index");
        std::memcpy(h.data(), hash.data(), h.size());
    }
    return find_key(h);
}

void store::for_each_key(const std::function<void(const key_record&)>& visit) const {
    const auto lock = impl_->use();
    rocksdb::ReadOptions options;
    options.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(options, impl_->keys()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
        auto key = codec::decode_key(it->key().ToStringView(), it->value().ToStringView());
        if (!key) corrupt("key record");
        visit(*key);
    }
    check(it->status(), "scan keys");
}

void store::put_key(const key_record& key) {
    const auto lock = impl_->use();
    rocksdb::WriteBatch batch;
    impl_->put_key(batch, key);
    check(impl_->db->Write(impl_->synced, &batch), "write key");
}

void store::write(const catalog_batch& changes) {
    const auto lock = impl_->use();
    rocksdb::WriteBatch batch;
    for (const auto& user : changes.users)
        batch.Put(impl_->users(), user.name, codec::encode_user(user));
    for (const auto& key : changes.keys) impl_->put_key(batch, key);
    check(impl_->db->Write(impl_->synced, &batch), "write batch");
}

bool store::add_usage(const std::vector<usage_bucket>& buckets, std::string* error) noexcept {
    try {
        // Reused per thread and encoded on the stack: the request path allocates nothing here.
        const auto lock = impl_->use();
        thread_local rocksdb::WriteBatch batch;
        batch.Clear();
        for (const auto& b : buckets) {
            char key[codec::usage_key_size], value[codec::usage_value_size];
            codec::encode_usage_key(b.second, b.key_id, key);
            codec::encode_usage_value(b.count, value);
            batch.Merge(impl_->usage(), rocksdb::Slice(key, sizeof key),
                        rocksdb::Slice(value, sizeof value));
        }
        const auto status = impl_->db->Write(impl_->logged, &batch);
        if (status.ok()) return true;
        if (error) *error = status.ToString();
    } catch (...) {
        if (error) *error = "out of memory";
    }
    return false;
}

bool store::resume(std::string* error) noexcept {
    try {
        rocksdb::Status status = rocksdb::Status::Incomplete("closed");
        {
            std::shared_lock lock(impl_->gate);
            if (impl_->db) status = impl_->db->Resume();
        }
        // RocksDB resumes by itself only from some errors (a full disk, slowly); a failed WAL
        // write or a read-only directory needs the database closed and opened again, which
        // also cancels any recovery in progress. Replaying the WAL on open loses nothing.
        if (!status.ok()) status = impl_->reopen();
        if (status.ok()) return true;
        if (error) *error = status.ToString();
    } catch (...) {
        if (error) *error = "out of memory";
    }
    return false;
}

void store::for_each_usage(unix_seconds from, unix_seconds until,
                           const std::function<void(const usage_bucket&)>& visit) const {
    from = std::max<unix_seconds>(from, 0);  // seconds are stored unsigned
    if (from >= until) return;
    const std::string lower = codec::encode_usage_key(from, 0);
    const std::string upper = codec::encode_usage_key(until, 0);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    const auto lock = impl_->use();
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(options, impl_->usage()));
    for (it->Seek(lower); it->Valid(); it->Next()) {
        auto bucket = codec::decode_usage_key(it->key().ToStringView());
        auto count = codec::decode_usage_value(it->value().ToStringView());
        if (!bucket || !count) continue;  // a damaged bucket is skipped, not fatal to a report
        bucket->count = *count;
        visit(*bucket);
    }
    check(it->status(), "scan usage");
}

void store::expire_usage_before(unix_seconds cutoff) {
    if (cutoff <= 0) return;
    const auto lock = impl_->use();
    check(impl_->db->DeleteRange(impl_->logged, impl_->usage(), codec::encode_usage_key(0, 0),
                                 codec::encode_usage_key(cutoff, 0)),
          "expire usage");
}

void store::flush() {
    const auto lock = impl_->use();
    check(impl_->db->FlushWAL(true), "flush WAL");
}

void store::compact() {
    const auto lock = impl_->use();
    for (auto* handle : impl_->handles) {
        check(impl_->db->Flush(rocksdb::FlushOptions(), handle), "flush memtable");
        rocksdb::CompactRangeOptions options;
        options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
        check(impl_->db->CompactRange(options, handle, nullptr, nullptr), "compact");
    }
}

std::uint64_t store::table_bytes() const {
    std::uint64_t total = 0;
    for (const auto& entry : std::filesystem::directory_iterator(impl_->directory))
        if (entry.path().extension() == ".sst") total += entry.file_size();
    return total;
}

}  // namespace rl::storage
