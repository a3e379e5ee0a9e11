#pragma once
// Reading usage with the database in use, shared by the scan and the roll-ups. Internal to
// storage/.

#include <limits>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/usage_store.hpp"

namespace rl::storage {

// The buckets of one resolution in [begin, end).
struct usage_cursor : range_cursor {
    usage_cursor(const database::session& s, usage_resolution resolution, unix_seconds begin,
                 unix_seconds end)
        : range_cursor(s, schema::usage_family(resolution), codec::encode_usage_key(begin, 0),
                       codec::encode_usage_key(end, 0)) {}
};

inline usage_coverage coverage_in(const database::session& s, usage_resolution resolution) {
    usage_coverage c;
    c.kept_from = s.meta_time(schema::kept_from_key(resolution)).value_or(0);
    c.folded_until = resolution == usage_resolution::second
                         ? std::numeric_limits<unix_seconds>::max()
                         : s.meta_time(schema::folded_until_key(resolution)).value_or(0);
    return c;
}

}  // namespace rl::storage
