#pragma once
// A data directory over a fresh temporary directory, reopened on demand (as after a restart),
// and helpers to write and read usage back as rows.

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "storage/data_dir.hpp"
#include "tests/support/temp_dir.hpp"

namespace rl::testing {

struct data_dir_fixture {
    temp_dir tmp;
    std::string directory = tmp / "data";
    std::unique_ptr<storage::data_dir> db = storage::data_dir::open(directory);

    void reopen() {
        db.reset();
        db = storage::data_dir::open(directory);
    }
};

inline storage::key_record key_of(std::string user, std::uint64_t id, std::string_view plain) {
    return {id, common::sha256(plain), std::move(user), "label", 1795815000, 0, 0};
}

inline storage::usage_bucket bucket(storage::unix_seconds start, std::uint64_t key_id,
                                    std::uint64_t admitted, std::uint64_t limited = 0) {
    return {start, key_id, {admitted, limited}};
}

// (start, key_id, admitted, limited) of every per-second bucket in [from, until), in visiting
// order.
using bucket_row = std::tuple<storage::unix_seconds, std::uint64_t, std::uint64_t, std::uint64_t>;
inline std::vector<bucket_row> usage_between(const storage::data_dir& db,
                                             storage::unix_seconds from,
                                             storage::unix_seconds until) {
    std::vector<bucket_row> rows;
    db.usage().scan({storage::usage_resolution::second, from, until},
                    [&](const storage::usage_bucket& b) {
                        rows.emplace_back(b.start, b.key_id, b.count.admitted, b.count.limited);
                    });
    return rows;
}

}  // namespace rl::testing
