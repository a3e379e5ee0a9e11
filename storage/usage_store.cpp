#include "storage/usage_store.hpp"

#include <algorithm>
#include <memory>

#include <rocksdb/convenience.h>

#include "common/time_text.hpp"

#include "storage/usage_cursor.hpp"

namespace rl::storage {

usage_store::usage_store(database& db) : db_(db) {
    const auto s = db_.use();
    minutes_folded_until_ =
        s.meta_time(schema::folded_until_key(usage_resolution::minute)).value_or(0);
    // Minutes from the next whole one on, and past any second already stored (a clock that
    // stepped back since), are written by this store alone.
    unix_seconds after = common::wall_now();
    const std::unique_ptr<rocksdb::Iterator> it(
        s.db().NewIterator(rocksdb::ReadOptions(), s.family(schema::family::usage_1s)));
    it->SeekToLast();
    if (it->Valid())
        if (const auto last = codec::decode_usage_key(it->key().ToStringView()))
            after = std::max(after, last->start);
    summed_from_ = taken_until_ = common::floor_to(after, 60) + 60;
}

void usage_store::sum_locked(const std::vector<usage_bucket>& buckets,
                             std::vector<unix_seconds>& late) {
    for (const auto& b : buckets) {
        const unix_seconds minute = common::floor_to(b.start, 60);
        if (minute < summed_from_) continue;  // before this store: folded by a scan
        if (minute < taken_until_) {
            late.push_back(minute);
            continue;
        }
        minute_sums& sums = sums_[minute];
        if (sums.overflowed) continue;
        if (sums.per_key.size() == max_summed_keys && !sums.per_key.count(b.key_id)) {
            sums.overflowed = true;
            key_sums().swap(sums.per_key);  // its memory back now
            continue;
        }
        sums.per_key[b.key_id] += b.count;
    }
}

std::optional<std::map<unix_seconds, usage_store::key_sums>> usage_store::take_sums(
    unix_seconds begin, unix_seconds end) {
    std::lock_guard lock(sums_mutex_);
    taken_until_ = std::max(taken_until_, end);
    bool whole = begin >= summed_from_;
    std::map<unix_seconds, key_sums> taken;
    while (!sums_.empty() && sums_.begin()->first < end) {
        auto node = sums_.extract(sums_.begin());
        whole &= !node.mapped().overflowed;
        if (node.key() >= begin) taken.emplace(node.key(), std::move(node.mapped().per_key));
    }
    if (!whole) {
        summed_from_ = std::max(summed_from_, end);  // what was dropped here is scanned
        return std::nullopt;
    }
    return taken;
}

// Keys are (second, key id) and arrive in time order, so memtables switched between seconds
// hold disjoint key ranges: RocksDB then moves their files down the levels (a trivial move)
// instead of merging each with the newest file below it, which was half of the background CPU
// a per-second entry cost. RocksDB's own switch at write_buffer_size stays as the bound; a
// late entry (an older second after the switch) only makes that one compaction a merge.
bool usage_store::memtable_switch_due(unix_seconds first) noexcept {
    if (first <= newest_second_.load(std::memory_order_relaxed)) return false;
    auto written = entries_since_switch_.load(std::memory_order_relaxed);
    return written >= entries_per_memtable &&
           entries_since_switch_.compare_exchange_strong(written, 0);
}

bool usage_store::add(const std::vector<usage_bucket>& buckets, std::string* error) noexcept {
    try {
        // Reused per thread and encoded on the stack: the request path allocates nothing here.
        const auto s = db_.use();
        thread_local rocksdb::WriteBatch batch;
        batch.Clear();
        auto* family = s.family(schema::family::usage_1s);
        if (!buckets.empty() && memtable_switch_due(buckets.front().start)) {
            rocksdb::FlushOptions options;
            options.wait = false;              // the switch only; the flush runs in the background
            options.allow_write_stall = true;  // never wait here for an earlier flush to end
            s.db().Flush(options, family);     // if it fails, RocksDB switches at its bound
        }
        const unix_seconds folded = minutes_folded_until_.load(std::memory_order_relaxed);
        unix_seconds newest = 0;
        thread_local std::vector<unix_seconds> late;  // minutes written after their fold
        late.clear();
        for (const auto& b : buckets) {
            char key[codec::usage_key_size], value[codec::usage_value_size];
            codec::encode_usage_key(b.start, b.key_id, key);
            codec::encode_usage_value(b.count, value);
            batch.Merge(family, rocksdb::Slice(key, sizeof key),
                        rocksdb::Slice(value, sizeof value));
            if (b.start < folded) late.push_back(common::floor_to(b.start, 60));
            newest = std::max(newest, b.start);
        }
        const auto status = s.try_write_logged(batch);
        if (!status.ok()) {
            if (error) *error = status.ToString();
            return false;
        }
        entries_since_switch_.fetch_add(buckets.size(), std::memory_order_relaxed);
        for (auto seen = newest_second_.load(std::memory_order_relaxed);
             seen < newest && !newest_second_.compare_exchange_weak(seen, newest);) {
        }
        {
            std::lock_guard lock(sums_mutex_);
            sum_locked(buckets, late);
        }
        if (!late.empty()) {  // rare: never on the request path's usual course
            std::lock_guard lock(late_mutex_);
            late_minutes_.insert(late.begin(), late.end());
        }
        return true;
    } catch (const storage_error& e) {  // closed after a failed reopen
        if (error) *error = e.what();
    } catch (...) {
        if (error) *error = "out of memory";
    }
    return false;
}

void usage_store::scan(const usage_range& range,
                       const std::function<void(const usage_bucket&)>& visit) const {
    const unix_seconds from = std::max<unix_seconds>(range.from, 0);  // stored unsigned
    if (from >= range.until) return;
    if (range.keys && range.keys->empty()) return;
    const auto s = db_.use();
    usage_cursor cursor(s, range.resolution, from, range.until);
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
                             ? codec::encode_usage_key(bucket->start + 1, 0)
                             : codec::encode_usage_key(bucket->start, *wanted));
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

void usage_store::expire(usage_resolution resolution, unix_seconds cutoff) {
    if (cutoff <= 0) return;
    const auto s = db_.use();
    if (cutoff <= kept_from_in(s, resolution)) return;
    // The cutoff first: every read starts from it (usage_cursor), so what the files below keep
    // of the expired seconds is never seen again.
    rocksdb::WriteBatch batch;
    batch.Put(s.family(schema::family::meta), schema::kept_from_key(resolution),
              std::to_string(cutoff));
    s.write_logged(batch, "expire usage");
    // Then every table file wholly before the cutoff goes, unread. No range tombstone: one
    // would make the memtable it lands in span from the first key to the newest second, and the
    // file flushed from it be merged with every file in between.
    const std::string begin = codec::encode_usage_key(0, 0),
                      end = codec::encode_usage_key(cutoff, 0);
    const rocksdb::Slice from(begin), until(end);
    check(rocksdb::DeleteFilesInRange(&s.db(), s.family(schema::usage_family(resolution)), &from,
                                      &until, false),
          "expire usage");
}

usage_coverage usage_store::coverage(usage_resolution resolution) const {
    return coverage_in(db_.use(), resolution);
}

}  // namespace rl::storage
