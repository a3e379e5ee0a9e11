// The catalog cache against a real etcd: a load at one revision, a restart from the cache's
// revision, the watch applying changes to RocksDB and then the observer, a reload after etcd
// compacted the history, and acks/<node>.

#include "cluster/catalog_sync.hpp"

#include <catch2/catch.hpp>

#include <thread>

#include "cluster/catalog_records.hpp"
#include "cluster/layout.hpp"
#include "tests/cluster/catalog_test_support.hpp"
#include "tests/support/etcd_member.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

using namespace rl;
using namespace rl::cluster;
using namespace std::chrono_literals;
using strings = std::vector<std::string>;

namespace {

storage::user_record user(std::string name, std::string plan = "default") {
    return {std::move(name), std::move(plan), "", false, 1795815000};
}
storage::key_record key(std::string user, std::uint64_t id) {
    return {id, common::sha256("key-" + std::to_string(id)), std::move(user), "", 1795815000, 0, 0};
}
storage::plan_record plan(std::string name, std::string limits = "1s:10") {
    return {std::move(name), std::move(limits), false, 1795815000, 1795815000};
}

template <typename Record>
std::int64_t put(etcd_client& etcd, const Record& record) {
    const txn_op op = put_of(record);
    auto done = etcd.put(op.key, op.value);
    REQUIRE(done);
    return done->revision;
}

std::int64_t erase(etcd_client& etcd, const std::string& key) {
    auto done = etcd.erase(key);
    REQUIRE(done);
    return done->revision;
}

void compact(const testing::etcd_member& etcd, std::int64_t revision) {
    const auto reply = testing::http_request(
        "POST", etcd.client_url() + "/v3/kv/compaction", {},
        "{\"revision\":\"" + std::to_string(revision) + "\",\"physical\":true}");
    REQUIRE(reply.status == 200);
}

strings user_names(const storage::data_dir& dir) {
    strings names;
    for (const auto& u : dir.catalog().list_users()) names.push_back(u.name);
    return names;
}

std::vector<std::uint64_t> key_ids(const storage::data_dir& dir) {
    std::vector<std::uint64_t> ids;
    dir.catalog().for_each_key([&](const storage::key_record& k) { ids.push_back(k.key_id); });
    std::sort(ids.begin(), ids.end());
    return ids;
}

std::int64_t ack_of(etcd_client& etcd, const std::string& node) {
    auto got = etcd.get(layout::ack_key(node));
    REQUIRE(got);
    return got->kvs.empty() ? 0 : std::stoll(got->kvs.front().value);
}

// The ack is written by a thread of its own: wait for it, boundedly.
std::int64_t wait_ack(etcd_client& etcd, const std::string& node, std::int64_t at_least) {
    std::int64_t ack = 0;
    for (int i = 0; i < 300 && (ack = ack_of(etcd, node)) < at_least; ++i)
        std::this_thread::sleep_for(10ms);
    return ack;
}

struct node {
    node(etcd_client& etcd, const std::string& directory, const std::string& id)
        : data(storage::data_dir::open(directory)),
          sync(etcd, *data, observer, id, [this](const std::string& line) {
              std::lock_guard lock(log_mutex);
              log.push_back(line);
          }) {}

    std::unique_ptr<storage::data_dir> data;
    testing::catalog_observer_log observer;
    std::mutex log_mutex;
    strings log;
    catalog_sync sync;
};

}  // namespace

TEST_CASE("catalog_sync: an empty cache loads the whole catalog at one revision") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    etcd_client etcd(testing::options_for(etcd_process));
    put(etcd, plan("gold", "1s:100"));
    put(etcd, user("alice", "gold"));
    put(etcd, user("bob"));
    for (std::uint64_t id = 1; id <= 1200; ++id) put(etcd, key(id % 2 ? "alice" : "bob", id));
    // A key whose user is gone (a delete cut short) is not loaded.
    const auto last = put(etcd, key("nobody", 5000));
    etcd.put(std::string(layout::key_ids_prefix) + "00", "not a record");

    node n(etcd, dir / "data", "rl1");
    n.sync.load();
    CHECK(n.sync.applied_revision() >= last);
    CHECK(n.data->catalog().revision() == n.sync.applied_revision());
    CHECK(n.sync.full_reloads() == 1);
    CHECK(user_names(*n.data) == strings{"alice", "bob"});
    CHECK(key_ids(*n.data).size() == 1200);
    CHECK(n.data->catalog().find_plan("gold")->limits == "1s:100");
    CHECK(n.data->catalog().find_key(common::sha256("key-7"))->user == "alice");
    CHECK(n.observer.calls().empty());  // the key index loads from the cache afterwards
}

TEST_CASE("catalog_sync: a single node's catalog is not replaced by an empty one") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    etcd_client etcd(testing::options_for(etcd_process));
    {
        auto single = storage::data_dir::open(dir / "data");
        single->catalog().put_user(user("alice"));
    }
    node n(etcd, dir / "data", "rl1");
    try {
        n.sync.load();
        FAIL("an empty etcd catalog replaced a single node's");
    } catch (const storage::storage_error& e) {
        CHECK(e.code() == storage::storage_errc::exists);
        CHECK(std::string(e.what()).find("--from-data-dir") != std::string::npos);
    }
    CHECK(user_names(*n.data) == strings{"alice"});
    // Once etcd holds a catalog, it is the one the node follows.
    put(etcd, user("bob"));
    n.sync.load();
    CHECK(user_names(*n.data) == strings{"bob"});
}

TEST_CASE("catalog_sync: the watch applies each change to the cache, then to the observer") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    etcd_client etcd(testing::options_for(etcd_process));
    put(etcd, user("alice"));
    node n(etcd, dir / "data", "rl1");
    n.sync.load();
    n.sync.start();

    SECTION("puts of plans, users and keys") {
        put(etcd, plan("gold"));
        put(etcd, user("bob", "gold"));
        const auto r = put(etcd, key("bob", 7));
        REQUIRE(n.sync.wait_applied(r, 5s));
        // Revisions without a catalog change (acks) may be applied in memory only.
        CHECK(n.data->catalog().revision() >= r);
        CHECK(n.data->catalog().revision() <= n.sync.applied_revision());
        CHECK(n.data->catalog().find_user("bob")->plan == "gold");
        CHECK(n.data->catalog().find_key_by_id(7)->user == "bob");
        CHECK(n.observer.take() == strings{"key 7", "plan gold", "user bob"});
        CHECK(wait_ack(etcd, "rl1", r) >= r);
    }
    SECTION("an erased key is dropped from the observer as revoked; a user takes their keys") {
        put(etcd, key("alice", 1));
        REQUIRE(n.sync.wait_applied(put(etcd, key("alice", 2)), 5s));
        const auto r1 = erase(etcd, etcd_key_of(key("alice", 1)));
        REQUIRE(n.sync.wait_applied(r1, 5s));
        CHECK(key_ids(*n.data) == std::vector<std::uint64_t>{2});
        CHECK(n.observer.take() == strings{"key 1", "key 2", "revoked key 1"});

        const auto r2 = erase(etcd, layout::user_key("alice"));
        REQUIRE(n.sync.wait_applied(r2, 5s));
        CHECK(user_names(*n.data).empty());
        CHECK(key_ids(*n.data).empty());  // the cache never holds a key without its user
        CHECK(n.observer.take() == strings{"-user alice"});
        // The key's own erase, later, finds nothing left to tell.
        const auto r3 = erase(etcd, etcd_key_of(key("alice", 2)));
        REQUIRE(n.sync.wait_applied(r3, 5s));
        CHECK(n.observer.take().empty());
    }
    SECTION("one transaction is one update: its changes arrive together") {
        auto done =
            etcd.txn({}, {put_of(plan("tin")), put_of(user("carol", "tin")),
                          put_of(key("carol", 9)), txn_op::erase(layout::user_key("alice"))});
        REQUIRE(done);
        REQUIRE(n.sync.wait_applied(done->revision, 5s));
        CHECK(user_names(*n.data) == strings{"carol"});
        CHECK(n.observer.take() == strings{"-user alice", "key 9", "plan tin", "user carol"});
        const auto deleted = erase(etcd, layout::plan_key("tin"));
        REQUIRE(n.sync.wait_applied(deleted, 5s));
        CHECK(n.observer.take() == strings{"-plan tin"});
        CHECK_FALSE(n.data->catalog().find_plan("tin"));
    }
    SECTION("writes outside the catalog advance the applied revision, and are not acked") {
        const auto catalog_revision = put(etcd, user("dave"));
        // At least the change's revision: an update may bring later revisions along.
        const auto acked = wait_ack(etcd, "rl1", catalog_revision);
        REQUIRE(acked >= catalog_revision);
        const auto r = etcd.put(layout::owner_key(3), "rl1")->revision;
        REQUIRE(n.sync.wait_applied(r, 5s));
        std::this_thread::sleep_for(1200ms);  // past a keepalive round of the ack thread
        CHECK(ack_of(etcd, "rl1") == acked);
        n.observer.take();
    }
    SECTION("stop revokes the ack's lease") {
        const auto r = put(etcd, user("erin"));
        REQUIRE(wait_ack(etcd, "rl1", r) >= r);
        n.sync.stop();
        CHECK(ack_of(etcd, "rl1") == 0);
    }
    CHECK_FALSE(n.sync.wait_applied(n.sync.applied_revision() + 1000, 10ms));
}

TEST_CASE("catalog_sync: a restart resumes from the cache's revision without a reload") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    etcd_client etcd(testing::options_for(etcd_process));
    put(etcd, user("alice"));
    std::int64_t stopped_at = 0;
    {
        node n(etcd, dir / "data", "rl1");
        n.sync.load();
        n.sync.start();
        REQUIRE(n.sync.wait_applied(put(etcd, user("bob")), 5s));
        stopped_at = n.sync.applied_revision();
    }
    erase(etcd, layout::user_key("alice"));
    const auto last = put(etcd, user("carol"));

    node n(etcd, dir / "data", "rl1");
    n.sync.load();
    CHECK(n.sync.full_reloads() == 0);
    CHECK(n.sync.applied_revision() == stopped_at);
    CHECK(user_names(*n.data) == strings{"alice", "bob"});
    n.sync.start();
    REQUIRE(n.sync.wait_applied(last, 5s));
    CHECK(user_names(*n.data) == strings{"bob", "carol"});
    CHECK(n.observer.take() == strings{"-user alice", "user carol"});
}

TEST_CASE("catalog_sync: a cache behind etcd's compacted history is reloaded") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    etcd_client etcd(testing::options_for(etcd_process));
    put(etcd, plan("gold"));
    put(etcd, plan("tin"));
    put(etcd, user("alice", "gold"));
    put(etcd, user("bob"));
    put(etcd, key("alice", 1));
    put(etcd, key("bob", 2));
    put(etcd, key("bob", 3));
    {
        node n(etcd, dir / "data", "rl1");
        n.sync.load();
    }

    SECTION("at load: nothing told, the key index loads afterwards") {
        erase(etcd, layout::user_key("bob"));
        compact(etcd_process, put(etcd, user("carol")));
        node n(etcd, dir / "data", "rl1");
        n.sync.load();
        CHECK(n.sync.full_reloads() == 1);
        CHECK(user_names(*n.data) == strings{"alice", "carol"});
        // bob's keys are still in etcd (a delete cut short) but not in the cache.
        CHECK(key_ids(*n.data) == std::vector<std::uint64_t>{1});
        CHECK(n.observer.calls().empty());
        bool said = false;
        for (const auto& line : n.log) said = said || line.find("reloading") != std::string::npos;
        CHECK(said);
    }
    SECTION("while running: the observer hears every difference") {
        node n(etcd, dir / "data", "rl1");
        n.sync.load();  // still inside the history
        CHECK(n.sync.full_reloads() == 0);
        // Before the watch starts, the history it needs goes.
        put(etcd, plan("gold", "1s:50"));         // changed
        erase(etcd, layout::plan_key("tin"));     // vanished
        put(etcd, user("alice", "gold"));         // the same record again: not told
        erase(etcd, etcd_key_of(key("bob", 3)));  // a key gone, its user stays
        erase(etcd, etcd_key_of(key("alice", 1)));
        erase(etcd, layout::user_key("alice"));  // a user gone, with keys
        put(etcd, user("carol"));                // new
        const auto last = put(etcd, key("carol", 4));
        compact(etcd_process, last);
        n.sync.start();
        REQUIRE(n.sync.wait_applied(last, 5s));
        CHECK(n.sync.full_reloads() == 1);
        CHECK(n.data->catalog().revision() >= last);
        CHECK(user_names(*n.data) == strings{"bob", "carol"});
        CHECK(key_ids(*n.data) == std::vector<std::uint64_t>{2, 4});
        CHECK(n.observer.take() == strings{"-plan tin", "-user alice", "key 4", "plan gold",
                                           "revoked key 3", "user carol"});
        // And the watch goes on after the reload.
        const auto after = put(etcd, user("dave"));
        REQUIRE(n.sync.wait_applied(after, 5s));
        CHECK(n.observer.take() == strings{"user dave"});
    }
}
