// The admin catalog over etcd: two nodes, each with its own cache, sync and writer, over one
// real etcd. Checks that the lock serialises check-then-write across nodes, that a call returns
// only once the other node applied it, and how unacked members and a lost lock are reported.

#include "cluster/etcd_catalog_writer.hpp"

#include <catch2/catch.hpp>

#include <thread>

#include "cluster/layout.hpp"
#include "tests/cluster/catalog_test_support.hpp"
#include "tests/support/etcd_member.hpp"
#include "tests/support/temp_dir.hpp"

using namespace rl;
using namespace rl::cluster;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// One node's catalog: its cache, watch, writer and the admin catalog on top.
struct node {
    node(etcd_client& etcd, const std::string& directory, const std::string& id,
         catalog_writer_options options = {})
        : data(storage::data_dir::open(directory)),
          sync(etcd, *data, observer, id, nullptr),
          writer(etcd, sync, data->catalog(), id, options),
          catalog(*data, 10, writer) {
        REQUIRE(etcd.put(layout::member_key(id), "{}"));
        sync.load();
        sync.start();
    }

    std::unique_ptr<storage::data_dir> data;
    testing::catalog_observer_log observer;
    catalog_sync sync;
    etcd_catalog_writer writer;
    admin::catalog catalog;
};

struct two_nodes {
    testing::temp_dir dir;
    testing::etcd_member etcd_process{dir.path()};
    etcd_client etcd{testing::options_for(etcd_process)};
    node one{etcd, dir / "one", "rl1"};
    node two{etcd, dir / "two", "rl2"};
};

}  // namespace

TEST_CASE_METHOD(two_nodes,
                 "etcd writer: the same user created on two nodes at once is created once") {
    for (int round = 0; round < 5; ++round) {
        const std::string name = "user" + std::to_string(round);
        admin::result<storage::user_record> first, second;
        std::thread a([&] { first = one.catalog.create_user(name, std::uint32_t{5}); });
        std::thread b([&] { second = two.catalog.create_user(name, std::uint32_t{7}); });
        a.join();
        b.join();
        const int created =
            (first.status == admin::outcome::created) + (second.status == admin::outcome::created);
        CHECK(created == 1);
        CHECK((first.status == admin::outcome::already_exists ||
               second.status == admin::outcome::already_exists));
        // Both caches hold the winner's record, already when the calls returned.
        const auto limits = first.status == admin::outcome::created ? "1s:5" : "1s:7";
        CHECK(one.data->catalog().find_user(name)->limits == limits);
        CHECK(two.data->catalog().find_user(name)->limits == limits);
    }
}

TEST_CASE_METHOD(two_nodes, "etcd writer: a revoke is in the other node's cache when it returns") {
    REQUIRE(one.catalog.create_user("alice", std::nullopt).succeeded());
    const auto created = one.catalog.create_key("alice", "ci", 0);
    REQUIRE(created.succeeded());
    const auto id = created.value->record.key_id;
    CHECK(two.data->catalog().find_key_by_id(id).has_value());

    const auto started = clock_type::now();
    REQUIRE(two.catalog.revoke_key(id).succeeded());
    const auto took = clock_type::now() - started;
    CHECK(one.data->catalog().find_key_by_id(id)->revoked_at != 0);
    const auto calls = one.observer.calls();
    CHECK(std::find(calls.begin(), calls.end(), "revoked key " + std::to_string(id)) !=
          calls.end());
    CHECK(two.writer.last_unacked().empty());
    CHECK(two.writer.last_revision() > 0);
    CHECK(took < 1s);
    // The other node's ack is at least the revoke's revision.
    auto ack = etcd.get(layout::ack_key("rl1"));
    REQUIRE(ack);
    REQUIRE(ack->kvs.size() == 1);
    CHECK(std::stoll(ack->kvs.front().value) >= two.writer.last_revision());
}

TEST_CASE_METHOD(two_nodes,
                 "etcd writer: plans, updates, bulk writes and deletes reach both caches") {
    REQUIRE(one.catalog.create_plan("gold", "1s:100", false).succeeded());
    REQUIRE(two.catalog
                .update_plan("gold", limiter::policy{{limiter::sliding_limit(1, 50)}}, std::nullopt)
                .succeeded());
    CHECK(one.data->catalog().find_plan("gold")->limits == "1s:50");

    // 250 rows: three transactions of at most 100 records.
    std::vector<admin::import_row> rows;
    for (int i = 0; i < 250; ++i)
        rows.push_back({i % 2 ? "bob" : "carol",
                        "imported-key-" + std::to_string(i),
                        {},
                        {},
                        i % 2 ? "gold" : ""});
    const auto summary = two.catalog.import(rows);
    CHECK(summary.keys_imported == 250);
    CHECK(summary.errors.empty());
    std::size_t keys = 0;
    one.data->catalog().for_each_key([&](const storage::key_record&) { ++keys; });
    CHECK(keys == 250);
    CHECK(one.data->catalog().find_user("bob")->plan == "gold");
    CHECK(one.catalog.delete_plan("gold").status == admin::outcome::conflict);

    // 125 keys and the user: two transactions.
    REQUIRE(one.catalog.delete_user("bob").succeeded());
    keys = 0;
    two.data->catalog().for_each_key([&](const storage::key_record& key) {
        ++keys;
        CHECK(key.user == "carol");
    });
    CHECK(keys == 125);
    CHECK_FALSE(two.data->catalog().find_user("bob"));
    auto left = etcd.get_prefix(std::string(layout::keys_prefix), {0, 0, true});
    REQUIRE(left);
    CHECK(left->kvs.size() == 125);

    REQUIRE(two.catalog.delete_plan("gold").succeeded());
    CHECK_FALSE(one.data->catalog().find_plan("gold"));
    REQUIRE(two.catalog.update_user("carol", std::uint32_t{3}, true).succeeded());
    CHECK(one.data->catalog().find_user("carol")->disabled);
}

TEST_CASE_METHOD(two_nodes, "etcd writer: a member that does not ack is named after the wait") {
    REQUIRE(etcd.put(layout::member_key("rl3"), "{}"));  // a member with no catalog_sync
    const auto started = clock_type::now();
    REQUIRE(one.catalog.create_user("dave", std::nullopt).succeeded());
    const auto took = clock_type::now() - started;
    CHECK(one.writer.last_unacked() == std::vector<std::string>{"rl3"});
    CHECK(took >= 2s);
    CHECK(took < 4s);
    CHECK(two.data->catalog().find_user("dave").has_value());  // rl2 did ack

    REQUIRE(etcd.erase(layout::member_key("rl3")));  // it left: no longer waited for
    REQUIRE(one.catalog.create_user("erin", std::nullopt).succeeded());
    CHECK(one.writer.last_unacked().empty());
}

TEST_CASE("etcd writer: the catalog lock, held elsewhere or lost") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    etcd_client etcd(testing::options_for(etcd_process));
    catalog_writer_options options;
    options.lock_wait = 300ms;
    node one(etcd, dir / "one", "rl1", options);

    const auto lease = etcd.lease_grant(10);
    REQUIRE(lease);
    REQUIRE(etcd.put(std::string(layout::catalog_lock_key), "rl9", lease->id));

    SECTION("held past the wait: begin throws, naming the holder") {
        const auto started = clock_type::now();
        try {
            one.catalog.create_user("alice", std::nullopt);
            FAIL("the write went through a held lock");
        } catch (const storage::storage_error& e) {
            CHECK(e.code() == storage::storage_errc::locked);
            CHECK(std::string(e.what()).find("rl9") != std::string::npos);
        }
        CHECK(clock_type::now() - started >= 300ms);
        CHECK_FALSE(one.data->catalog().find_user("alice"));
    }
    SECTION("given back within the wait: the write goes through") {
        std::thread release([&] {
            std::this_thread::sleep_for(100ms);
            etcd.lease_revoke(lease->id);
        });
        CHECK(one.catalog.create_user("alice", std::nullopt).succeeded());
        release.join();
        CHECK(one.data->catalog().find_user("alice").has_value());
        // The turn gave the lock back.
        CHECK(etcd.get(std::string(layout::catalog_lock_key))->kvs.empty());
    }
    SECTION("lost inside a turn: the write is refused") {
        etcd.lease_revoke(lease->id);
        const auto turn = one.writer.begin();
        REQUIRE(etcd.erase(std::string(layout::catalog_lock_key)));
        try {
            one.writer.put_user({"mallory", "default", "", false, 1});
            FAIL("a write without the lock went through");
        } catch (const storage::storage_error& e) {
            CHECK(e.code() == storage::storage_errc::locked);
        }
        CHECK(etcd.get(layout::user_key("mallory"))->kvs.empty());
    }
}
