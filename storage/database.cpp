#include "storage/database.hpp"

#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/table.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "storage/faulty_file_system.hpp"
#include "storage/migration.hpp"
#include "storage/rocksdb_log.hpp"
#include "storage/usage_merge_operator.hpp"

namespace rl::storage {

namespace {

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

rocksdb::ColumnFamilyOptions catalog_options() {
    rocksdb::ColumnFamilyOptions options;
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return options;
}

rocksdb::ColumnFamilyOptions usage_options() {
    rocksdb::ColumnFamilyOptions options;
    options.merge_operator = std::make_shared<usage_merge_operator>();
    // The request path only appends usage; it is read by reports and at startup. An append-only
    // vector memtable (sorted when flushed) makes each write O(1) instead of a skip-list insert.
    options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    // Smaller than the 64 MiB default: usage is write-only on the request path, so a memtable
    // buys nothing by being large, and two of them would otherwise hold 128 MiB of RSS.
    options.write_buffer_size = 16 << 20;
    // Flushing is most of what a usage write costs: leave the short-lived level-0 files
    // uncompressed; compaction compresses what stays.
    options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kSnappyCompression};
    // Keys arrive in time order, and expiry deletes whole files (usage_store::expire): no file
    // needs rewriting for its age.
    options.periodic_compaction_seconds = 0;
    return options;
}

// Per-second usage: usage_store switches memtables between seconds (before RocksDB's bound
// here), so each flushed file holds seconds no other file does and moves down the levels
// without being rewritten. A move keeps a file as it was flushed, so the flush compresses.
rocksdb::ColumnFamilyOptions per_second_usage_options() {
    rocksdb::ColumnFamilyOptions options = usage_options();
    options.write_buffer_size = 32 << 20;
    options.compression_per_level.clear();
    options.compression = rocksdb::kSnappyCompression;
    return options;
}

rocksdb::ColumnFamilyOptions options_for(schema::family family) {
    switch (family) {
        case schema::family::meta: return rocksdb::ColumnFamilyOptions();
        case schema::family::users:
        case schema::family::api_keys:
        case schema::family::api_key_ids:
        case schema::family::plans: return catalog_options();
        case schema::family::usage_1s: return per_second_usage_options();
        case schema::family::usage_1m:
        case schema::family::usage_1h: break;
    }
    return usage_options();
}

// Table files are opened once and kept open (-1) when the process may open plenty: the
// per-second files are ~2 MiB each, so a long retention under load is thousands of them. Under
// a lower limit (a login shell's 1024) RocksDB keeps half of it open and reopens the others as
// reads need them, leaving the rest to sockets.
int open_files_kept() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
        limit.rlim_cur >= 65536)
        return -1;
    return static_cast<int>(std::max<rlim_t>(limit.rlim_cur / 2, 32));
}

}  // namespace

[[noreturn]] void fail(const rocksdb::Status& status, std::string_view doing) {
    const std::string text = status.ToString();
    const std::string what = std::string(doing) + ": " + text;
    // RocksDB reports a held LOCK file as an I/O error: "While lock file: ..." when another
    // process holds it, "lock hold by current process" when this one does.
    if (status.IsIOError() && (text.find("While lock file") != std::string::npos ||
                               text.find("lock hold by current process") != std::string::npos))
        throw storage_error(storage_errc::locked, what);
    if (status.IsCorruption()) throw storage_error(storage_errc::corruption, what);
    throw storage_error(storage_errc::io_error, what);
}

void check(const rocksdb::Status& status, std::string_view doing) {
    if (!status.ok()) fail(status, doing);
}

[[noreturn]] void corrupt(std::string_view what) {
    throw storage_error(storage_errc::corruption, "cannot decode " + std::string(what));
}

database::database(std::string directory) : directory_(std::move(directory)) {
    synced_.sync = true;
}

std::unique_ptr<database> database::open(const std::string& directory,
                                         std::shared_ptr<faulty_disk> disk) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec)
        throw storage_error(storage_errc::io_error,
                            "cannot create " + directory + ": " + ec.message());
    ::chmod(directory.c_str(), 0700);  // keys are hashed, but usage and names are private too
    const bool fresh = !std::filesystem::exists(std::filesystem::path(directory) / "CURRENT");

    std::unique_ptr<database> self(new database(directory));
    rocksdb::DBOptions& options = self->db_options_;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.keep_log_file_num = 5;
    options.max_background_jobs = 2;
    options.max_open_files = open_files_kept();
    options.allow_concurrent_memtable_write = false;  // required by the vector memtable
    options.info_log = std::make_shared<rocksdb_log>(directory + "/LOG");
    static_assert(schema::family_names[0] == "default");  // RocksDB's kDefaultColumnFamilyName
    for (std::size_t i = 0; i < schema::family_count; ++i) {
        const auto family = static_cast<schema::family>(i);
        self->families_.emplace_back(std::string(schema::name_of(family)), options_for(family));
    }
    if (disk) {
        self->env_ = rocksdb::NewCompositeEnv(std::make_shared<faulty_file_system>(disk));
        options.env = self->env_.get();
    }
    check(self->open_db(), "open " + directory);
    self->check_schema(fresh);
    return self;
}

void database::check_schema(bool fresh) {
    const std::string key(schema::meta_schema_version);
    auto* meta = handles_[static_cast<std::size_t>(schema::family::meta)];
    std::string version;
    const auto status = db_->Get(rocksdb::ReadOptions(), meta, key, &version);
    if (status.IsNotFound() && fresh) {
        check(db_->Put(synced_, meta, key, std::to_string(schema_version)), "write schema version");
    } else if (!status.ok() && !status.IsNotFound()) {
        fail(status, "read schema version");
    } else if (version == "1") {
        static_assert(schema_version == 2 && oldest_upgradable_schema == 1);
        migrate_schema_1_to_2(*db_, handles_, synced_);
    } else if (version != std::to_string(schema_version)) {
        throw storage_error(
            storage_errc::schema_mismatch,
            directory_ + " has schema version '" + version + "', this build reads versions " +
                std::to_string(oldest_upgradable_schema) + " to " + std::to_string(schema_version));
    }
}

database::~database() {
    close();
}

rocksdb::Status database::open_db() {
    rocksdb::DB* raw = nullptr;
    auto status = rocksdb::DB::Open(db_options_, directory_, families_, &handles_, &raw);
    db_.reset(raw);
    return status;
}

void database::close() noexcept {
    if (!db_) return;
    // Memtables to SST files on every clean close, so the next open replays an empty WAL
    // instead of everything since the last flush (a bulk import, say). A failure only costs
    // that replay later.
    db_->Flush(rocksdb::FlushOptions(), handles_).PermitUncheckedError();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    handles_.clear();
    db_->Close().PermitUncheckedError();  // what is in the WAL is replayed on open
    db_.reset();
}

rocksdb::Status database::reopen() {
    std::unique_lock lock(gate_);
    close();
    return open_db();
}

database::session database::use() {
    std::shared_lock lock(gate_);
    if (!db_)
        throw storage_error(storage_errc::io_error,
                            "storage is closed after a write failure and not yet reopened");
    return session(*this, std::move(lock));
}

// Under ThreadSanitizer only, whatever enters RocksDB's write queue takes turns: a write, and
// the memtable flush a checkpoint or a compaction starts (and a range_cursor's iterator is made
// and destroyed in a turn). RocksDB groups the callers queued at
// once and the leading thread copies the others' batches and wakes them, ordered by atomics
// inside librocksdb, which is not instrumented, so TSan would report that as a race in
// whichever of our functions called in. Taking turns keeps RocksDB out of the report without
// muting any of our own frames.
std::unique_lock<std::mutex> database::write_turn() {
    if constexpr (thread_sanitizer) return std::unique_lock(tsan_write_turn_);
    return {};
}

rocksdb::Status database::write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch) {
    rocksdb::Status status;
    {
        const auto turn = write_turn();
        status = db_->Write(options, &batch);
    }
    if (!status.ok()) health_.failed(status.ToString());
    return status;
}

void database::session::write_synced(rocksdb::WriteBatch& batch, std::string_view doing) const {
    check(owner_->write(owner_->synced_, batch), doing);
}

void database::session::write_logged(rocksdb::WriteBatch& batch, std::string_view doing) const {
    check(owner_->write(owner_->logged_, batch), doing);
}

rocksdb::Status database::session::try_write_logged(rocksdb::WriteBatch& batch) const noexcept {
    return owner_->write(owner_->logged_, batch);
}

std::optional<std::int64_t> database::session::meta_number(const std::string& name) const {
    std::string text;
    const auto status = db().Get(rocksdb::ReadOptions(), family(schema::family::meta), name, &text);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read " + name);
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0') corrupt(name);
    return value;
}

bool database::resume(std::string* error) noexcept {
    std::string why = "out of memory";
    try {
        rocksdb::Status status = rocksdb::Status::Incomplete("closed");
        {
            std::shared_lock lock(gate_);
            if (db_) status = db_->Resume();
        }
        // RocksDB resumes by itself only from some errors (a full disk, slowly); a failed WAL
        // write or a read-only directory needs the database closed and opened again, which
        // also cancels any recovery in progress. Replaying the WAL on open loses nothing.
        if (!status.ok()) status = reopen();
        if (status.ok()) {
            health_.recovered();
            return true;
        }
        why = status.ToString();
    } catch (...) {  // allocation failure: try again later
    }
    health_.failed(why);
    if (error) *error = why;
    return false;
}

void database::flush() {
    const auto s = use();
    check(s.db().FlushWAL(true), "flush WAL");
}

void database::compact() {
    const auto s = use();
    for (auto* handle : handles_) {
        {
            const auto turn = write_turn();
            check(s.db().Flush(rocksdb::FlushOptions(), handle), "flush memtable");
        }
        rocksdb::CompactRangeOptions options;
        options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
        check(s.db().CompactRange(options, handle, nullptr, nullptr), "compact");
    }
}

std::uint64_t database::table_bytes() const {
    std::uint64_t total = 0;
    for (const auto& entry : std::filesystem::directory_iterator(directory_))
        if (entry.path().extension() == ".sst") total += entry.file_size();
    return total;
}

range_cursor::range_cursor(const database::session& session, schema::family family,
                           std::string begin, std::string end)
    : session(session), upper(std::move(end)), upper_slice(upper) {
    options.iterate_upper_bound = &upper_slice;
    const auto turn = session.write_turn();
    it.reset(session.db().NewIterator(options, session.family(family)));
    it->Seek(begin);
}

range_cursor::~range_cursor() {
    const auto turn = session.write_turn();
    it.reset();
}

}  // namespace rl::storage
