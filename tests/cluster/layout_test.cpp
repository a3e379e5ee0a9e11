#include "cluster/layout.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "common/api_key.hpp"

namespace layout = rl::cluster::layout;

TEST_CASE("every key of the layout is under /rl/v1/") {
    for (const std::string& key : {layout::user_key("alice"), layout::key_key(std::string(64, 'a')),
                                   layout::key_id_key("00000000000000ff"), layout::plan_key("gold"),
                                   layout::member_key("rl1"), layout::owner_key(7),
                                   layout::ack_key("rl1"), std::string(layout::config_key)})
        REQUIRE(key.rfind(std::string(layout::root), 0) == 0);
    for (const auto prefix : layout::catalog_prefixes) {
        REQUIRE(prefix.substr(0, layout::root.size()) == layout::root);
        REQUIRE(prefix.back() == '/');
    }
    REQUIRE(layout::user_key("alice") == "/rl/v1/users/alice");
    REQUIRE(layout::owner_key(0) == "/rl/v1/owners/00");
    REQUIRE(layout::owner_key(31) == "/rl/v1/owners/31");
    REQUIRE(layout::owner_key(200) == "/rl/v1/owners/200");
}

TEST_CASE("owner keys name their group and nothing else parses as one") {
    for (std::uint32_t group = 0; group < layout::max_groups; ++group)
        REQUIRE(layout::group_of_owner_key(layout::owner_key(group)) == group);
    for (const char* other :
         {"/rl/v1/owners/", "/rl/v1/owners/7", "/rl/v1/owners/007", "/rl/v1/owners/256",
          "/rl/v1/owners/0a", "/rl/v1/members/01", "/rl/v1/owners/01/x"})
        REQUIRE_FALSE(layout::group_of_owner_key(other).has_value());
}

TEST_CASE("group_of splits the first route byte into G contiguous ranges") {
    REQUIRE(layout::group_of("00aaaaaaaa", 32) == 0u);
    REQUIRE(layout::group_of("07ffffffff", 32) == 0u);
    REQUIRE(layout::group_of("08", 32) == 1u);
    REQUIRE(layout::group_of("f8", 32) == 31u);
    REQUIRE(layout::group_of("ff00000000", 32) == 31u);
    REQUIRE(layout::group_of("ff", 1) == 0u);
    REQUIRE(layout::group_of("ff", 256) == 255u);
    REQUIRE(layout::group_of("80", 3) == 1u);

    // Every group gets route bytes, in order, for any valid G.
    for (std::uint32_t groups = 1; groups <= layout::max_groups; ++groups) {
        std::uint32_t previous = 0;
        std::set<std::uint32_t> used;
        for (unsigned byte = 0; byte < 256; ++byte) {
            const auto group = layout::group_of_route_byte(static_cast<std::uint8_t>(byte), groups);
            REQUIRE(group < groups);
            REQUIRE(group >= previous);
            previous = group;
            used.insert(group);
        }
        REQUIRE(used.size() == groups);
    }
}

TEST_CASE("group_of refuses what is not a route and a group count out of range") {
    REQUIRE_FALSE(layout::group_of("", 32).has_value());
    REQUIRE_FALSE(layout::group_of("0", 32).has_value());
    REQUIRE_FALSE(layout::group_of("0G", 32).has_value());
    REQUIRE_FALSE(layout::group_of("AB", 32).has_value());  // routes are lowercase
    REQUIRE_FALSE(layout::group_of("ab", 0).has_value());
    REQUIRE_FALSE(layout::group_of("ab", 257).has_value());
}

TEST_CASE("a user's group comes from the name, the same route every key of theirs carries") {
    for (const char* name : {"alice", "bob", "carol@example.com", "x"}) {
        const std::string route = rl::common::route_of(name);
        const std::string key = rl::common::generate_api_key(name);
        REQUIRE(key.substr(3, 10) == route);
        REQUIRE(layout::group_of_user(name, 32) == layout::group_of(route, 32));
    }
    // Users spread over the groups.
    std::map<std::uint32_t, int> per_group;
    for (int i = 0; i < 3200; ++i)
        ++per_group[layout::group_of_user("user" + std::to_string(i), 32)];
    REQUIRE(per_group.size() == 32);
    for (const auto& [group, count] : per_group) {
        INFO("group " << group);
        REQUIRE(count > 50);
        REQUIRE(count < 150);
    }
}

TEST_CASE("node ids are safe in keys, HAProxy server names and labels") {
    for (const std::string& good : {std::string("rl1"), std::string("node-2.eu_west"),
                                    std::string("A"), std::string(64, 'n')})
        REQUIRE(layout::is_valid_node_id(good));
    for (const std::string& bad : {std::string(), std::string(65, 'n'), std::string("rl 1"),
                                   std::string("rl/1"), std::string("rl1\n"), std::string("rl:1")})
        REQUIRE_FALSE(layout::is_valid_node_id(bad));
}
