#pragma once
// The data directory's schema in one place: the column families with their on-disk names and
// layouts, and the meta keys. Family names and layouts are the on-disk contract; changing one
// means a new schema_version. Byte layouts are implemented in codec.hpp.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "storage/records.hpp"

namespace rl::storage {

// Written to meta at creation; a directory with any other value is refused.
inline constexpr int schema_version = 2;
// The oldest version open() upgrades (see migration.hpp); anything older or newer is refused.
inline constexpr int oldest_upgradable_schema = 1;

namespace schema {

// Every column family, in the order the database opens them.
enum class family : std::size_t {
    // meta: decimal text under the meta keys below.
    meta,
    // users: user name -> u8 format (2), string plan, string limits, u8 disabled,
    //   le64 created_at (plan empty: the user's own limits; a string is le64 length, then its
    //   bytes). Format 1 (schema 1, still read): u8 1, le64 limit, u8 disabled, le64 created_at;
    //   limit 0 reads as plan "default", limit N as limits "1s:N".
    users,
    // api_keys: sha256(key), 32 bytes -> u8 format (1), le64 key_id, string user,
    //   string label, le64 created_at, le64 expires_at, le64 revoked_at.
    api_keys,
    // api_key_ids: be64 key_id -> sha256(key), 32 bytes; finds a key by id.
    api_key_ids,
    // usage_1s, usage_1m, usage_1h: be64 period start, be64 key_id -> le64 admitted,
    //   le64 limited, le64 shadow_limited (values written before shadow mode have only the
    //   first two and read as shadow_limited 0; merges and roll-ups write all three). Per
    //   second as written (merged: values add up), and rolled up per minute and per hour (Put:
    //   a fold replaces a period's sums). Big-endian keys sort by time.
    usage_1s,
    usage_1m,
    usage_1h,
    // plans (schema 2): plan name -> u8 format (1), string limits, u8 shadow, le64 created_at,
    //   le64 updated_at. The built-in plan "default" is never stored.
    plans,
};

inline constexpr std::size_t family_count = 8;

// On-disk names, indexed by family. "default" is RocksDB's own family, used for meta.
inline constexpr std::array<std::string_view, family_count> family_names = {
    "default", "users", "api_keys", "api_key_ids", "usage_1s", "usage_1m", "usage_1h", "plans",
};

constexpr std::string_view name_of(family f) noexcept {
    return family_names[static_cast<std::size_t>(f)];
}

constexpr family usage_family(usage_resolution r) noexcept {
    return r == usage_resolution::second   ? family::usage_1s
           : r == usage_resolution::minute ? family::usage_1m
                                           : family::usage_1h;
}

// "1s", "1m" or "1h": the suffix a resolution's family and meta keys share.
constexpr std::string_view suffix_of(usage_resolution r) noexcept {
    return name_of(usage_family(r)).substr(std::string_view("usage_").size());
}

// Meta keys. schema_version: the version the directory was written with.
inline constexpr std::string_view meta_schema_version = "schema_version";

// catalog_revision (cluster mode): the etcd revision the stored catalog holds everything up
// to; absent (0) on one node and before the first load from etcd.
inline constexpr std::string_view meta_catalog_revision = "catalog_revision";

// usage_folded_until_1m, _1h: the roll-up holds every whole period before this time.
inline std::string folded_until_key(usage_resolution r) {
    return std::string("usage_folded_until_") + std::string(suffix_of(r));
}

// usage_kept_from_1s, _1m, _1h: buckets before this time were expired.
inline std::string kept_from_key(usage_resolution r) {
    return std::string("usage_kept_from_") + std::string(suffix_of(r));
}

}  // namespace schema
}  // namespace rl::storage
