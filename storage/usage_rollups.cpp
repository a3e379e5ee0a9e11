// The roll-up engine of usage_store: per-second buckets folded into minutes, minutes into
// hours, and minutes that got usage after they were folded folded again.

#include <algorithm>

#include "storage/usage_cursor.hpp"
#include "storage/usage_store.hpp"

namespace rl::storage {

namespace {

using common::floor_to;
using sums = usage_store::key_sums;

// Sums per key of the `from` buckets in [begin, end).
sums sums_of(const database::session& s, usage_resolution from, unix_seconds begin,
             unix_seconds end) {
    sums per_key;
    usage_cursor cursor(s, from, begin, end);
    auto& it = cursor.it;
    for (; it->Valid(); it->Next()) {
        const auto bucket = codec::decode_usage_key(it->key().ToStringView());
        const auto count = codec::decode_usage_value(it->value().ToStringView());
        if (bucket && count) per_key[bucket->key_id] += *count;
    }
    check(it->status(), "scan usage to fold");
    return per_key;
}

// Put, not merged: a period folded again from all of its buckets replaces what was there.
void put_sums(const database::session& s, rocksdb::WriteBatch& batch, usage_resolution into,
              unix_seconds period, const sums& per_key) {
    auto* family = s.family(schema::usage_family(into));
    for (const auto& [key_id, count] : per_key)
        batch.Put(family, codec::encode_usage_key(period, key_id),
                  codec::encode_usage_value(count));
}

}  // namespace

void usage_store::refold_late_minutes() {
    std::set<unix_seconds> minutes;
    {
        std::lock_guard lock(late_mutex_);
        minutes.swap(late_minutes_);
    }
    if (minutes.empty()) return;
    const auto s = db_.use();
    const auto seconds = coverage_in(s, usage_resolution::second);
    const auto by_minute = coverage_in(s, usage_resolution::minute);
    const auto by_hour = coverage_in(s, usage_resolution::hour);
    std::set<unix_seconds> hours;
    rocksdb::WriteBatch batch;
    for (const auto minute : minutes) {
        if (minute < seconds.kept_from || minute >= by_minute.folded_until) continue;
        put_sums(s, batch, usage_resolution::minute, minute,
                 sums_of(s, usage_resolution::second, minute, minute + 60));
        const unix_seconds hour = floor_to(minute, 3600);
        if (hour >= by_minute.kept_from && hour < by_hour.folded_until) hours.insert(hour);
    }
    s.write_logged(batch, "fold late usage");
    batch.Clear();
    for (const auto hour : hours)
        put_sums(s, batch, usage_resolution::hour, hour,
                 sums_of(s, usage_resolution::minute, hour, hour + 3600));
    s.write_logged(batch, "fold late usage");
}

std::size_t usage_store::fold(usage_resolution into, unix_seconds through,
                              std::size_t max_periods) {
    if (into == usage_resolution::second) return 0;
    if (into == usage_resolution::minute) refold_late_minutes();
    const auto s = db_.use();
    const usage_resolution from =
        into == usage_resolution::hour ? usage_resolution::minute : usage_resolution::second;
    const std::int64_t period = period_of(into);
    const usage_coverage source = coverage_in(s, from);
    const unix_seconds end = floor_to(std::min(through, source.folded_until), period);
    const std::string watermark_key = schema::folded_until_key(into);
    const auto watermark = s.meta_time(watermark_key);
    // The first fold starts at the oldest source bucket there is; nothing is folded into what
    // `into` has already expired.
    const unix_seconds expired = coverage_in(s, into).kept_from;
    const unix_seconds start =
        std::max(watermark.value_or(0), floor_to(expired + period - 1, period));
    if (end <= start) return 0;

    // Writes the sums of one period and the watermark after it, atomically.
    const auto write_period = [&](unix_seconds at, const sums& per_key, unix_seconds next) {
        rocksdb::WriteBatch batch;
        put_sums(s, batch, into, at, per_key);
        batch.Put(s.family(schema::family::meta), watermark_key, std::to_string(next));
        s.write_logged(batch, "write usage roll-up");
        if (into == usage_resolution::minute) minutes_folded_until_.store(next);
    };

    if (into == usage_resolution::minute) {
        if (auto summed = take_sums(start, end)) {
            // Every second of these minutes went through add(), which summed them.
            for (auto it = summed->begin(); it != summed->end(); ++it) {
                const auto next = std::next(it);
                write_period(it->first, it->second, next == summed->end() ? end : next->first);
            }
            if (summed->empty()) write_period(start, {}, end);  // only the watermark
            return summed->size();
        }
    }

    usage_cursor cursor(s, from, start, end);
    auto& it = cursor.it;
    std::size_t written = 0;
    unix_seconds current = start;
    sums per_key;
    for (; it->Valid(); it->Next()) {
        const auto bucket = codec::decode_usage_key(it->key().ToStringView());
        const auto count = codec::decode_usage_value(it->value().ToStringView());
        if (!bucket || !count) continue;
        const unix_seconds p = floor_to(bucket->start, period);
        if (!per_key.empty() && p != current) {
            write_period(current, per_key, p);  // the periods between had nothing
            per_key.clear();
            if (++written == max_periods) return written;
        }
        current = p;
        per_key[bucket->key_id] += *count;
    }
    check(it->status(), "scan usage to fold");
    // The last period with data, or only the watermark when there was nothing to sum.
    write_period(current, per_key, end);
    return written + (per_key.empty() ? 0 : 1);
}

}  // namespace rl::storage
