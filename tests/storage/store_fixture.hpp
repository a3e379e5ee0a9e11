#pragma once
// A store over a fresh temporary directory, reopened on demand (as after a restart).

#include <memory>
#include <string>

#include "storage/store.hpp"
#include "tests/support/temp_dir.hpp"

namespace rl::testing {

struct store_fixture {
    temp_dir tmp;
    std::string directory = tmp / "data";
    std::unique_ptr<storage::store> db = storage::store::open(directory);

    void reopen() {
        db.reset();
        db = storage::store::open(directory);
    }
};

}  // namespace rl::testing
