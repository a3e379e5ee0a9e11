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

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "storage/codec.hpp"
#include "storage/usage_merge_operator.hpp"

namespace rl::storage {

namespace {

// Column families: the names are the on-disk contract.
constexpr const char* cf_users = "users";          // user name -> user record
constexpr const char* cf_keys = "api_keys";        // sha256(key) -> key record
constexpr const char* cf_key_ids = "api_key_ids";  // be64 key_id -> sha256(key)
constexpr const char* cf_usage = "usage_1s";       // be64 second, be64 key_id -> counts
constexpr const char* cf_usage_1m = "usage_1m";    // be64 minute start, be64 key_id -> counts
constexpr const char* cf_usage_1h = "usage_1h";    // be64 hour start, be64 key_id -> counts
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
    // RocksDB's background threads log on their own; the lock orders their last line before the
    // close, so a late line can never go to a descriptor number reused since.
    ~plain_log() override {
        std::lock_guard lock(mutex_);
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    using rocksdb::Logger::Logv;
    void Logv(const char* format, va_list ap) override {
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
        std::lock_guard lock(mutex_);
        [[maybe_unused]] const ssize_t written = fd_ >= 0 ? ::write(fd_, line, n) : 0;
    }

private:
    std::mutex mutex_;
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

const char* suffix_of(usage_resolution resolution) {
    switch (resolution) {
        case usage_resolution::second: return "1s";
        case usage_resolution::minute: return "1m";
        case usage_resolution::hour: break;
    }
    return "1h";
}

// Roll-up bookkeeping in the default family, as decimal text.
std::string folded_until_key(usage_resolution r) {
    return std::string("usage_folded_until_") + suffix_of(r);
}
std::string kept_from_key(usage_resolution r) {
    return std::string("usage_kept_from_") + suffix_of(r);
}

using common::floor_to;

// An iterator over one resolution's buckets in [begin, end), positioned at `begin`.
struct usage_cursor {
    std::string upper;
    rocksdb::Slice upper_slice;
    rocksdb::ReadOptions options;
    std::unique_ptr<rocksdb::Iterator> it;

    usage_cursor(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* family, unix_seconds begin,
                 unix_seconds end)
        : upper(codec::encode_usage_key(end, 0)), upper_slice(upper) {
        options.iterate_upper_bound = &upper_slice;
        it.reset(db.NewIterator(options, family));
        it->Seek(codec::encode_usage_key(begin, 0));
    }
    usage_cursor(const usage_cursor&) = delete;
    usage_cursor& operator=(const usage_cursor&) = delete;
};

#if defined(__SANITIZE_THREAD__)
constexpr bool thread_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool thread_sanitizer = true;
#else
constexpr bool thread_sanitizer = false;
#endif
#else
constexpr bool thread_sanitizer = false;
#endif

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
    std::vector<rocksdb::ColumnFamilyHandle*> handles;  // default, users, keys, key_ids,
                                                        // usage_1s, usage_1m, usage_1h
    rocksdb::WriteOptions synced;
    rocksdb::WriteOptions logged;  // in the WAL, not fsynced

    // Every write goes through here. Under ThreadSanitizer only, writes take turns: RocksDB
    // groups concurrent writes and the leading thread copies the others' batches, ordered by
    // atomics inside librocksdb, which is not instrumented, so TSan would report that copy as a
    // race in whichever of our functions called Write. Taking turns keeps RocksDB out of the
    // report without muting any of our own frames.
    std::mutex tsan_write_turn;
    rocksdb::Status write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) {
        if constexpr (thread_sanitizer) {
            std::lock_guard turn(tsan_write_turn);
            return db->Write(options, batch);
        }
        return db->Write(options, batch);
    }

    // Usage that arrives for an already folded minute (the clock stepped back, or a write was
    // delayed past the fold's grace) marks that minute to be folded again. The marks live in
    // memory only: one lost in a crash leaves the roll-up short of those late requests.
    std::atomic<unix_seconds> minutes_folded_until{0};
    std::mutex late_mutex;
    std::set<unix_seconds> late_minutes;

    rocksdb::ColumnFamilyHandle* meta() const { return handles[0]; }
    rocksdb::ColumnFamilyHandle* users() const { return handles[1]; }
    rocksdb::ColumnFamilyHandle* keys() const { return handles[2]; }
    rocksdb::ColumnFamilyHandle* key_ids() const { return handles[3]; }
    rocksdb::ColumnFamilyHandle* usage() const { return handles[4]; }
    rocksdb::ColumnFamilyHandle* usage(usage_resolution r) const {
        return r == usage_resolution::second   ? handles[4]
               : r == usage_resolution::minute ? handles[5]
                                               : handles[6];
    }

    std::optional<unix_seconds> meta_time(const std::string& name) const {
        std::string text;
        const auto status = db->Get(rocksdb::ReadOptions(), meta(), name, &text);
        if (status.IsNotFound()) return std::nullopt;
        check(status, "read " + name);
        char* end = nullptr;
        const long long value = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0') corrupt(name);
        return value;
    }

    // Sums per key of the `from` buckets in [begin, end).
    std::unordered_map<std::uint64_t, usage_count> sums_of(usage_resolution from,
                                                           unix_seconds begin, unix_seconds end) {
        std::unordered_map<std::uint64_t, usage_count> sums;
        usage_cursor cursor(*db, usage(from), begin, end);
        auto& it = cursor.it;
        for (; it->Valid(); it->Next()) {
            const auto bucket = codec::decode_usage_key(it->key().ToStringView());
            const auto count = codec::decode_usage_value(it->value().ToStringView());
            if (bucket && count) sums[bucket->key_id] += *count;
        }
        check(it->status(), "scan usage to fold");
        return sums;
    }

    void put_sums(rocksdb::WriteBatch& batch, usage_resolution into, unix_seconds period,
                  const std::unordered_map<std::uint64_t, usage_count>& sums) {
        for (const auto& [key_id, count] : sums)
            batch.Put(usage(into), codec::encode_usage_key(period, key_id),
                      codec::encode_usage_value(count));
    }

    // Writes the sums of one period of a roll-up and the watermark after it, atomically.
    void write_period(usage_resolution into, unix_seconds period,
                      const std::unordered_map<std::uint64_t, usage_count>& sums,
                      unix_seconds watermark) {
        rocksdb::WriteBatch batch;
        put_sums(batch, into, period, sums);
        batch.Put(meta(), folded_until_key(into), std::to_string(watermark));
        check(write(logged, &batch), "write usage roll-up");
        if (into == usage_resolution::minute) minutes_folded_until.store(watermark);
    }

    usage_coverage coverage(usage_resolution resolution) const {
        usage_coverage c;
        c.kept_from = meta_time(kept_from_key(resolution)).value_or(0);
        c.folded_until = resolution == usage_resolution::second
                             ? std::numeric_limits<unix_seconds>::max()
                             : meta_time(folded_until_key(resolution)).value_or(0);
        return c;
    }
    void refold_late_minutes();  // with the gate held

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
        // Memtables to SST files on every clean close, so the next open replays an empty WAL:
        // after `rlctl import` of a million keys that is the difference between ready in ~2 s
        // and over a minute. A failure only costs that replay later.
        db->Flush(rocksdb::FlushOptions(), handles).PermitUncheckedError();
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
    // Flushing is most of what a usage write costs (bench/micro_bench usage_record, perf): leave
    // the short-lived level-0 files uncompressed; compaction compresses what stays.
    usage_options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kSnappyCompression};
    // Keys arrive in time order; old ones are removed by range tombstones, and periodic
    // compaction makes sure the files behind them are rewritten even without new writes.
    usage_options.periodic_compaction_seconds = 24 * 3600;

    state->families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {cf_users, catalog_options},
        {cf_keys, catalog_options},
        {cf_key_ids, catalog_options},
        {cf_usage, usage_options},
        {cf_usage_1m, usage_options},
        {cf_usage_1h, usage_options},
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
    state->minutes_folded_until =
        state->meta_time(folded_until_key(usage_resolution::minute)).value_or(0);
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
    rocksdb::WriteBatch batch;
    batch.Put(impl_->users(), user.name, codec::encode_user(user));
    check(impl_->write(impl_->synced, &batch), "write user");
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
    check(impl_->write(impl_->synced, &batch), "delete user");
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
    check(impl_->write(impl_->synced, &batch), "write key");
}

void store::write(const catalog_batch& changes) {
    const auto lock = impl_->use();
    rocksdb::WriteBatch batch;
    for (const auto& user : changes.users)
        batch.Put(impl_->users(), user.name, codec::encode_user(user));
    for (const auto& key : changes.keys) impl_->put_key(batch, key);
    check(impl_->write(impl_->synced, &batch), "write batch");
}

bool store::add_usage(const std::vector<usage_bucket>& buckets, std::string* error) noexcept {
    try {
        // Reused per thread and encoded on the stack: the request path allocates nothing here.
        const auto lock = impl_->use();
        thread_local rocksdb::WriteBatch batch;
        batch.Clear();
        const unix_seconds folded = impl_->minutes_folded_until.load(std::memory_order_relaxed);
        bool late = false;
        for (const auto& b : buckets) {
            char key[codec::usage_key_size], value[codec::usage_value_size];
            codec::encode_usage_key(b.second, b.key_id, key);
            codec::encode_usage_value(b.count, value);
            batch.Merge(impl_->usage(), rocksdb::Slice(key, sizeof key),
                        rocksdb::Slice(value, sizeof value));
            late |= b.second < folded;
        }
        const auto status = impl_->write(impl_->logged, &batch);
        if (!status.ok()) {
            if (error) *error = status.ToString();
            return false;
        }
        if (late) {  // rare: never on the request path's usual course
            std::lock_guard lock(impl_->late_mutex);
            for (const auto& b : buckets)
                if (b.second < folded) impl_->late_minutes.insert(floor_to(b.second, 60));
        }
        return true;
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
    for_each_usage(usage_range{usage_resolution::second, from, until, nullptr}, visit);
}

void store::for_each_usage(const usage_range& range,
                           const std::function<void(const usage_bucket&)>& visit) const {
    const unix_seconds from = std::max<unix_seconds>(range.from, 0);  // stored unsigned
    if (from >= range.until) return;
    if (range.keys && range.keys->empty()) return;
    const auto lock = impl_->use();
    usage_cursor cursor(*impl_->db, impl_->usage(range.resolution), from, range.until);
    auto& it = cursor.it;
    while (it->Valid()) {
        auto bucket = codec::decode_usage_key(it->key().ToStringView());
        if (!bucket) {  // a damaged bucket is skipped, not fatal to a report
            it->Next();
            continue;
        }
        if (range.keys) {
            // Skip scan: jump to the next wanted key in this period, or to the next period.
            const auto wanted =
                std::lower_bound(range.keys->begin(), range.keys->end(), bucket->key_id);
            if (wanted == range.keys->end() || *wanted != bucket->key_id) {
                it->Seek(wanted == range.keys->end()
                             ? codec::encode_usage_key(bucket->second + 1, 0)
                             : codec::encode_usage_key(bucket->second, *wanted));
                continue;
            }
        }
        if (auto count = codec::decode_usage_value(it->value().ToStringView())) {
            bucket->count = *count;
            visit(*bucket);
        }
        it->Next();
    }
    check(it->status(), "scan usage");
}

void store::expire_usage_before(unix_seconds cutoff) {
    expire_usage_before(usage_resolution::second, cutoff);
}

void store::expire_usage_before(usage_resolution resolution, unix_seconds cutoff) {
    if (cutoff <= 0) return;
    const auto lock = impl_->use();
    if (cutoff <= impl_->meta_time(kept_from_key(resolution)).value_or(0)) return;
    rocksdb::WriteBatch batch;
    batch.DeleteRange(impl_->usage(resolution), codec::encode_usage_key(0, 0),
                      codec::encode_usage_key(cutoff, 0));
    batch.Put(impl_->meta(), kept_from_key(resolution), std::to_string(cutoff));
    check(impl_->write(impl_->logged, &batch), "expire usage");
}

usage_coverage store::coverage(usage_resolution resolution) const {
    const auto lock = impl_->use();
    return impl_->coverage(resolution);
}

void store::impl::refold_late_minutes() {
    std::set<unix_seconds> minutes;
    {
        std::lock_guard lock(late_mutex);
        minutes.swap(late_minutes);
    }
    if (minutes.empty()) return;
    // Put, not merged: a period folded again from all of its buckets replaces what was there.
    const auto seconds = coverage(usage_resolution::second);
    const auto by_minute = coverage(usage_resolution::minute);
    const auto by_hour = coverage(usage_resolution::hour);
    std::set<unix_seconds> hours;
    rocksdb::WriteBatch batch;
    for (const auto minute : minutes) {
        if (minute < seconds.kept_from || minute >= by_minute.folded_until) continue;
        put_sums(batch, usage_resolution::minute, minute,
                 sums_of(usage_resolution::second, minute, minute + 60));
        const unix_seconds hour = floor_to(minute, 3600);
        if (hour >= by_minute.kept_from && hour < by_hour.folded_until) hours.insert(hour);
    }
    check(write(logged, &batch), "fold late usage");
    batch.Clear();
    for (const auto hour : hours)
        put_sums(batch, usage_resolution::hour, hour,
                 sums_of(usage_resolution::minute, hour, hour + 3600));
    check(write(logged, &batch), "fold late usage");
}

std::size_t store::fold_usage(usage_resolution into, unix_seconds through,
                              std::size_t max_periods) {
    if (into == usage_resolution::second) return 0;
    const auto lock = impl_->use();
    if (into == usage_resolution::minute) impl_->refold_late_minutes();
    const usage_resolution from =
        into == usage_resolution::hour ? usage_resolution::minute : usage_resolution::second;
    const std::int64_t period = period_of(into);
    const usage_coverage source = impl_->coverage(from);
    const unix_seconds end = floor_to(std::min(through, source.folded_until), period);
    const auto watermark = impl_->meta_time(folded_until_key(into));
    // The first fold starts at the oldest source bucket there is; nothing is folded into what
    // `into` has already expired.
    const unix_seconds expired = impl_->coverage(into).kept_from;
    const unix_seconds start =
        std::max(watermark.value_or(0), floor_to(expired + period - 1, period));
    if (end <= start) return 0;

    usage_cursor cursor(*impl_->db, impl_->usage(from), start, end);
    auto& it = cursor.it;
    std::size_t written = 0;
    unix_seconds current = start;
    std::unordered_map<std::uint64_t, usage_count> sums;
    for (; it->Valid(); it->Next()) {
        const auto bucket = codec::decode_usage_key(it->key().ToStringView());
        const auto count = codec::decode_usage_value(it->value().ToStringView());
        if (!bucket || !count) continue;
        const unix_seconds p = floor_to(bucket->second, period);
        if (!sums.empty() && p != current) {
            impl_->write_period(into, current, sums, p);  // the periods between had nothing
            sums.clear();
            if (++written == max_periods) return written;
        }
        current = p;
        sums[bucket->key_id] += *count;
    }
    check(it->status(), "scan usage to fold");
    // The last period with data, or only the watermark when there was nothing to sum.
    impl_->write_period(into, current, sums, end);
    return written + (sums.empty() ? 0 : 1);
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
