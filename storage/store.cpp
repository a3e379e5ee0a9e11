#include "storage/store.hpp"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
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

}  // namespace

struct store::impl {
    std::string directory;
    std::unique_ptr<rocksdb::DB> db;
    // default, users, keys, key_ids, usage_1s, usage_1m, usage_1h
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::WriteOptions synced;
    rocksdb::WriteOptions logged;  // in the WAL, not fsynced

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
        check(db->Write(logged, &batch), "write usage roll-up");
        if (into == usage_resolution::minute) minutes_folded_until.store(watermark);
    }

    ~impl() {
        if (!db) return;
        // Memtables to SST files on every clean close, so the next open replays an empty WAL:
        // after `rlctl import` of a million keys that is the difference between ready in ~2 s
        // and over a minute. A failure only costs that replay later.
        db->Flush(rocksdb::FlushOptions(), handles).PermitUncheckedError();
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
        db->Close();
    }

    void put_key(rocksdb::WriteBatch& batch, const key_record& key) {
        batch.Put(keys(), view(key.hash), codec::encode_key(key));
        batch.Put(key_ids(), codec::encode_key_id(key.key_id), view(key.hash));
    }
};

std::unique_ptr<store> store::open(const std::string& directory) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec)
        throw storage_error(storage_errc::io_error,
                            "cannot create " + directory + ": " + ec.message());
    ::chmod(directory.c_str(), 0700);  // keys are hashed, but usage and names are private too
    const bool fresh = !std::filesystem::exists(std::filesystem::path(directory) / "CURRENT");

    rocksdb::DBOptions db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.keep_log_file_num = 5;
    db_options.max_background_jobs = 2;
    db_options.allow_concurrent_memtable_write = false;  // required by the vector memtable

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

    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {cf_users, catalog_options},
        {cf_keys, catalog_options},
        {cf_key_ids, catalog_options},
        {cf_usage, usage_options},
        {cf_usage_1m, usage_options},
        {cf_usage_1h, usage_options},
    };

    auto state = std::make_unique<impl>();
    state->directory = directory;
    state->synced.sync = true;
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(db_options, directory, families, &state->handles, &raw),
          "open " + directory);
    state->db.reset(raw);

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
    std::string bytes;
    const auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->users(), name, &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read user");
    auto user = codec::decode_user(name, bytes);
    if (!user) corrupt("user record");
    return user;
}

std::vector<user_record> store::list_users() const {
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
    check(impl_->db->Put(impl_->synced, impl_->users(), user.name, codec::encode_user(user)),
          "write user");
}

void store::delete_user(std::string_view name) {
    rocksdb::WriteBatch batch;
    batch.Delete(impl_->users(), name);
    for_each_key([&](const key_record& key) {
        if (key.user != name) return;
        batch.Delete(impl_->keys(), view(key.hash));
        batch.Delete(impl_->key_ids(), codec::encode_key_id(key.key_id));
    });
    check(impl_->db->Write(impl_->synced, &batch), "delete user");
}

std::optional<key_record> store::find_key(const key_hash& hash) const {
    std::string bytes;
    const auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->keys(), view(hash), &bytes);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read key");
    auto key = codec::decode_key(view(hash), bytes);
    if (!key) corrupt("key record");
    return key;
}

std::optional<key_record> store::find_key_by_id(std::uint64_t key_id) const {
    std::string hash;
    const auto status = impl_->db->Get(rocksdb::ReadOptions(), impl_->key_ids(),
                                       codec::encode_key_id(key_id), &hash);
    if (status.IsNotFound()) return std::nullopt;
    check(status, "read key id");
    if (hash.size() != sizeof(key_hash)) corrupt("key id index");
    key_hash h;
    std::memcpy(h.data(), hash.data(), h.size());
    return find_key(h);
}

void store::for_each_key(const std::function<void(const key_record&)>& visit) const {
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
    rocksdb::WriteBatch batch;
    impl_->put_key(batch, key);
    check(impl_->db->Write(impl_->synced, &batch), "write key");
}

void store::write(const catalog_batch& changes) {
    rocksdb::WriteBatch batch;
    for (const auto& user : changes.users)
        batch.Put(impl_->users(), user.name, codec::encode_user(user));
    for (const auto& key : changes.keys) impl_->put_key(batch, key);
    check(impl_->db->Write(impl_->synced, &batch), "write batch");
}

bool store::add_usage(const std::vector<usage_bucket>& buckets) noexcept {
    try {
        // Reused per thread and encoded on the stack: the request path allocates nothing here.
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
        if (!impl_->db->Write(impl_->logged, &batch).ok()) return false;
        if (late) {  // rare: never on the request path's usual course
            std::lock_guard lock(impl_->late_mutex);
            for (const auto& b : buckets)
                if (b.second < folded) impl_->late_minutes.insert(floor_to(b.second, 60));
        }
        return true;
    } catch (...) {
        return false;
    }
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
    if (cutoff <= impl_->meta_time(kept_from_key(resolution)).value_or(0)) return;
    rocksdb::WriteBatch batch;
    batch.DeleteRange(impl_->usage(resolution), codec::encode_usage_key(0, 0),
                      codec::encode_usage_key(cutoff, 0));
    batch.Put(impl_->meta(), kept_from_key(resolution), std::to_string(cutoff));
    check(impl_->db->Write(impl_->logged, &batch), "expire usage");
}

usage_coverage store::coverage(usage_resolution resolution) const {
    usage_coverage c;
    c.kept_from = impl_->meta_time(kept_from_key(resolution)).value_or(0);
    c.folded_until = resolution == usage_resolution::second
                         ? std::numeric_limits<unix_seconds>::max()
                         : impl_->meta_time(folded_until_key(resolution)).value_or(0);
    return c;
}

void store::refold_late_minutes() {
    std::set<unix_seconds> minutes;
    {
        std::lock_guard lock(impl_->late_mutex);
        minutes.swap(impl_->late_minutes);
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
        impl_->put_sums(batch, usage_resolution::minute, minute,
                        impl_->sums_of(usage_resolution::second, minute, minute + 60));
        const unix_seconds hour = floor_to(minute, 3600);
        if (hour >= by_minute.kept_from && hour < by_hour.folded_until) hours.insert(hour);
    }
    check(impl_->db->Write(impl_->logged, &batch), "fold late usage");
    batch.Clear();
    for (const auto hour : hours)
        impl_->put_sums(batch, usage_resolution::hour, hour,
                        impl_->sums_of(usage_resolution::minute, hour, hour + 3600));
    check(impl_->db->Write(impl_->logged, &batch), "fold late usage");
}

std::size_t store::fold_usage(usage_resolution into, unix_seconds through,
                              std::size_t max_periods) {
    if (into == usage_resolution::second) return 0;
    if (into == usage_resolution::minute) refold_late_minutes();
    const usage_resolution from =
        into == usage_resolution::hour ? usage_resolution::minute : usage_resolution::second;
    const std::int64_t period = period_of(into);
    const usage_coverage source = coverage(from);
    const unix_seconds end = floor_to(std::min(through, source.folded_until), period);
    const auto watermark = impl_->meta_time(folded_until_key(into));
    // The first fold starts at the oldest source bucket there is; nothing is folded into what
    // `into` has already expired.
    const unix_seconds expired = coverage(into).kept_from;
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
    check(impl_->db->FlushWAL(true), "flush WAL");
}

void store::compact() {
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
