#pragma once
// Reading usage with the database in use, shared by the scan and the roll-ups. Internal to
// storage/.

#include <algorithm>
#include <limits>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/usage_store.hpp"

namespace rl::storage {

inline unix_seconds kept_from_in(const database::session& s, usage_resolution resolution) {
    return s.meta_time(schema::kept_from_key(resolution)).value_or(0);
}

inline usage_coverage coverage_in(const database::session& s, usage_resolution resolution) {
    usage_coverage c;
    c.kept_from = kept_from_in(s, resolution);
    c.folded_until = resolution == usage_resolution::second
                         ? std::numeric_limits<unix_seconds>::max()
                         : s.meta_time(schema::folded_until_key(resolution)).value_or(0);
    return c;
}

// The buckets of one resolution in [begin, end), never one before its kept_from: expiry
// deletes whole files, so a file holding the last expired seconds beside kept ones still has
// them until a later cutoff passes its newest (see usage_store::expire).
struct usage_cursor : range_cursor {
    usage_cursor(const database::session& s, usage_resolution resolution, unix_seconds begin,
                 unix_seconds end)
        : range_cursor(s, schema::usage_family(resolution),
                       codec::encode_usage_key(
                           std::min(std::max(begin, kept_from_in(s, resolution)), end), 0),
                       codec::encode_usage_key(end, 0)) {}
};

}  // namespace rl::storage
