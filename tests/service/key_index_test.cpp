// The in-memory key index, driven as the catalog drives it: lookups, expiry, revocation, user
// changes and deletes, and many keys at once.

#include <catch2/catch.hpp>

#include <string>

#include "admin/catalog.hpp"
#include "service/key_index.hpp"
#include "tests/support/temp_dir.hpp"

using namespace rl;
using service::key_status;

namespace {

constexpr common::unix_seconds now = 1'800'000'000;

// Own limits of `limit` per second, or the default plan when 0.
storage::user_record user(const std::string& name, std::uint32_t limit = 0, bool disabled = false) {
    if (limit == 0) return {name, "default", "", disabled, now};
    return {name, "", "1s:" + std::to_string(limit), disabled, now};
}

// The quota per second a user is held to (every user here has one 1-s limit).
std::uint32_t per_second(const service::user_entry& entry) {
    const auto& limits = entry.terms.load()->policy.limits;
    REQUIRE(limits.size() == 1);
    return limits[0].quota;
}

storage::user_record follower(const std::string& name, const std::string& plan) {
    return {name, plan, "", false, now};
}

storage::key_record key(std::uint64_t id, const std::string& plain, const std::string& owner,
                        common::unix_seconds expires_at = 0, common::unix_seconds revoked_at = 0) {
    storage::key_record k;
    k.key_id = id;
    k.hash = common::sha256(plain);
    k.user = owner;
    k.created_at = now;
    k.expires_at = expires_at;
    k.revoked_at = revoked_at;
    return k;
}

service::key_lookup find(const service::key_index& index, const std::string& plain,
                         common::unix_seconds at = now) {
    return index.find(common::sha256(plain), at);
}

}  // namespace

TEST_CASE("a live key finds its user; anything else is unknown") {
    service::key_index index(10);
    index.user_changed(user("alice", 5));
    index.key_changed(key(1, "rl_alice_key", "alice"));

    const auto found = find(index, "rl_alice_key");
    REQUIRE(found.status == key_status::valid);
    CHECK(found.key_id == 1);
    REQUIRE(found.user);
    CHECK(found.user->name == "alice");
    CHECK(per_second(*found.user) == 5);
    CHECK_FALSE(found.user->disabled.load());

    CHECK(find(index, "rl_other_key").status == key_status::unknown);
    CHECK(find(index, "rl_other_key").user == nullptr);
    CHECK(index.key_count() == 1);
    CHECK(index.user_count() == 1);
}

TEST_CASE("an expiring key is valid until its expiry and expired from then on") {
    service::key_index index(10);
    index.user_changed(user("alice"));
    index.key_changed(key(3, "rl_expiring", "alice", now + 10));
    CHECK(find(index, "rl_expiring", now + 9).status == key_status::valid);
    const auto expired = find(index, "rl_expiring", now + 10);
    CHECK(expired.status == key_status::expired);
    CHECK(expired.key_id == 3);  // still named, for usage and the access log
    CHECK(expired.user == nullptr);
}

TEST_CASE("a revoked key is gone from the index") {
    service::key_index index(10);
    index.user_changed(user("alice"));
    index.key_changed(key(1, "rl_first", "alice"));
    index.key_changed(key(2, "rl_second", "alice"));
    index.key_changed(key(1, "rl_first", "alice", 0, now));
    CHECK(find(index, "rl_first").status == key_status::unknown);
    CHECK(find(index, "rl_second").status == key_status::valid);
    CHECK(index.key_count() == 1);
}

TEST_CASE("user changes reach the entry their keys point at") {
    service::key_index index(10);
    index.user_changed(user("alice", 5));
    index.key_changed(key(1, "rl_alice_key", "alice"));
    const service::user_entry* entry = find(index, "rl_alice_key").user;
    REQUIRE(entry);

    index.user_changed(user("alice", 0, true));  // back to the default limit, and disabled
    CHECK(per_second(*entry) == 10);
    CHECK(entry->disabled.load());
    index.user_changed(user("alice", 7, false));
    CHECK(find(index, "rl_alice_key").user == entry);  // the same entry: the same window
    CHECK(per_second(*entry) == 7);
    CHECK_FALSE(entry->disabled.load());
    CHECK(index.user_count() == 1);
}

TEST_CASE("a deleted user's keys are dropped; re-created, the user keeps their id") {
    service::key_index index(10);
    index.user_changed(user("alice"));
    index.user_changed(user("bob"));
    index.key_changed(key(1, "rl_alice_key", "alice"));
    index.key_changed(key(2, "rl_bob_key", "bob"));
    const limiter::user_id alice_id = find(index, "rl_alice_key").user->id;

    index.user_deleted("alice");
    CHECK(find(index, "rl_alice_key").status == key_status::unknown);
    CHECK(find(index, "rl_bob_key").status == key_status::valid);
    CHECK(index.user_count() == 1);
    CHECK(index.key_count() == 1);
    index.user_deleted("alice");  // twice, or never known: no change
    index.user_deleted("carol");
    CHECK(index.user_count() == 1);

    index.user_changed(user("alice", 3));
    index.key_changed(key(3, "rl_alice_new", "alice"));
    const auto found = find(index, "rl_alice_new");
    REQUIRE(found.status == key_status::valid);
    CHECK(found.user->id == alice_id);
    CHECK(index.user_count() == 2);
    CHECK(index.last_user_id() == 2);  // ids are handed out once
}

TEST_CASE("many keys over many users are each found with their own user") {
    service::key_index index(10);
    constexpr int users = 300;
    constexpr int keys_per_user = 20;
    for (int u = 0; u < users; ++u) index.user_changed(user("user" + std::to_string(u), u + 1));
    std::uint64_t id = 0;
    for (int u = 0; u < users; ++u)
        for (int k = 0; k < keys_per_user; ++k) {
            ++id;
            index.key_changed(key(id, "rl_key_" + std::to_string(id), "user" + std::to_string(u)));
        }
    CHECK(index.user_count() == users);
    CHECK(index.key_count() == users * keys_per_user);
    CHECK(index.last_user_id() == users);

    id = 0;
    for (int u = 0; u < users; ++u) {
        for (int k = 0; k < keys_per_user; ++k) {
            const auto found = find(index, "rl_key_" + std::to_string(++id));
            REQUIRE(found.status == key_status::valid);
            REQUIRE(found.key_id == id);
            REQUIRE(found.user->name == "user" + std::to_string(u));
            REQUIRE(per_second(*found.user) == static_cast<std::uint32_t>(u + 1));
        }
    }
}

TEST_CASE("load reads every user and live key from storage and reports each key") {
    testing::temp_dir dir;
    auto store = storage::data_dir::open(dir / "data");
    admin::catalog catalog(*store, 10, nullptr);
    REQUIRE(catalog.create_user("alice", 4).succeeded());
    REQUIRE(catalog.create_user("idle", std::nullopt).succeeded());  // a user without keys
    const auto live = catalog.create_key("alice", "", 0).value->key;
    const auto revoked = catalog.create_key("alice", "", 0).value;
    REQUIRE(catalog.revoke_key(revoked->record.key_id).succeeded());

    service::key_index index(10);
    int reported = 0;
    index.load(store->catalog(),
               [&](const storage::key_record& k, const service::user_entry& entry) {
                   ++reported;
                   CHECK(k.user == "alice");
                   CHECK(per_second(entry) == 4);
               });
    CHECK(reported == 1);
    CHECK(index.user_count() == 2);
    CHECK(index.key_count() == 1);
    CHECK(find(index, live).status == key_status::valid);
    CHECK(find(index, revoked->key).status == key_status::unknown);
}

std::string policy_of(const service::key_index& index, const std::string& plain) {
    return limiter::to_string(find(index, plain).user->terms.load()->policy);
}

TEST_CASE("a plan's followers take its policy, and follow its changes at once") {
    service::key_index index(10);
    std::vector<service::terms_change> told;
    index.on_terms_changed([&](const std::vector<service::terms_change>& changes) {
        told.insert(told.end(), changes.begin(), changes.end());
    });
    index.plan_changed({"free", "1s:3,day:1000", false, now, now});
    index.user_changed(follower("alice", "free"));
    index.user_changed(follower("bob", "free"));
    index.user_changed(user("carol", 8));
    index.key_changed(key(1, "rl_alice_key", "alice"));
    index.key_changed(key(2, "rl_bob_key", "bob"));
    index.key_changed(key(3, "rl_carol_key", "carol"));
    CHECK(policy_of(index, "rl_alice_key") == "1s:3,day:1000");
    CHECK(policy_of(index, "rl_bob_key") == "1s:3,day:1000");
    CHECK(find(index, "rl_alice_key").user->terms.load()->plan == "free");
    CHECK(told.empty());  // new users: no windows, no usage to carry over

    told.clear();
    index.plan_changed({"free", "1s:6", false, now, now});
    CHECK(policy_of(index, "rl_alice_key") == "1s:6");
    CHECK(policy_of(index, "rl_bob_key") == "1s:6");
    CHECK(policy_of(index, "rl_carol_key") == "1s:8");  // own limits: untouched
    REQUIRE(told.size() == 2);
    CHECK(limiter::to_string(told[0].before->policy) == "1s:3,day:1000");
    CHECK(limiter::to_string(told[0].after->policy) == "1s:6");

    // Shadow mode alone changes no policy: followers get the new terms, the limiter no news.
    told.clear();
    index.plan_changed({"free", "1s:6", true, now, now});
    CHECK(find(index, "rl_alice_key").user->terms.load()->shadow);
    CHECK(told.empty());

    told.clear();
    index.users_changed({follower("bob", "default"), user("carol", 9), user("dave", 3)});
    CHECK(policy_of(index, "rl_bob_key") == "1s:10");
    CHECK(told.size() == 2);  // bob and carol, in one call; dave is new
    index.plan_changed({"free", "1s:2", false, now, now});
    CHECK(policy_of(index, "rl_bob_key") == "1s:10");  // no longer a follower
    CHECK(policy_of(index, "rl_alice_key") == "1s:2");
}

TEST_CASE("plans are loaded with the users that follow them") {
    testing::temp_dir tmp;
    auto store = storage::data_dir::open(tmp / "data");
    store->catalog().put_plan({"pro", "1s:40,1m:600", false, now, now});
    store->catalog().put_user(follower("alice", "pro"));
    store->catalog().put_user({"bob", "", "10s:50", false, now});
    store->catalog().put_key(key(1, "rl_alice_key", "alice"));
    store->catalog().put_key(key(2, "rl_bob_key", "bob"));
    service::key_index index(10);
    index.load(store->catalog(), nullptr);
    CHECK(policy_of(index, "rl_alice_key") == "1s:40,1m:600");
    CHECK(policy_of(index, "rl_bob_key") == "10s:50");
    const auto keys = index.keys_of({find(index, "rl_bob_key").user->id});
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].first == 2);
}
