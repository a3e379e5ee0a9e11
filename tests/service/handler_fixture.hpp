#pragma once
// /limit without sockets: the key index, limiter and usage recorder wired as in the server, over
// a temporary data directory.

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "admin/catalog.hpp"
#include "service/limit_handler.hpp"
#include "tests/support/temp_dir.hpp"

namespace rl::testing {

struct handler_fixture {
    explicit handler_fixture(const storage::open_options& options = {},
                             service::on_storage_error mode = service::on_storage_error::open,
                             service::usage_recorder::log_line log = {},
                             std::size_t max_held = service::usage_recorder::default_max_held)
        : store(storage::data_dir::open(dir / "data", options)),
          usage(*store, mode, std::move(log), max_held) {}

    temp_dir dir;
    std::unique_ptr<storage::data_dir> store;
    service::key_index keys{10};
    limiter::policy_limiter limiter;
    service::usage_recorder usage;
    service::metrics counters;
    std::atomic<bool> ready{true};
    admin::catalog catalog{*store, 10, &keys};
    service::limit_handler handler{keys, limiter, usage, counters, ready};
    limiter::time_point t0 = limiter::time_point{} + std::chrono::hours(1);
    common::unix_seconds wall_s = 1'800'000'000;
    limiter::wall_time wall = limiter::wall_time(std::chrono::seconds(wall_s));

    // A new user with one key; returns the plain key.
    std::string key_for(const std::string& user, std::uint32_t limit) {
        REQUIRE(catalog.create_user(user, limit).succeeded());
        return catalog.create_key(user, "", 0).value->key;
    }

    // A limited result as limit_handler answers it under terms in shadow mode: the decision
    // stands, the outcome and its usage count are shadow_limited.
    static service::limit_result as_shadow(service::limit_result limited) {
        REQUIRE(limited.outcome == service::limit_outcome::limited);
        limited.outcome = service::limit_outcome::shadow_limited;
        limited.usage.kind = service::usage_kind_of(limited.outcome);
        return limited;
    }
};

}  // namespace rl::testing
