#pragma once
// Where cluster mode keeps its state in etcd, and which group a user belongs to. Every key is
// under /rl/v1/, so one etcd can serve other tenants and a later layout can live beside this one.
//
//   /rl/v1/config              cluster_settings as JSON (ownership.hpp)  (rlctl cluster init)
//   /rl/v1/users/<name>        the user record; {"deleted":true} is a tombstone
//   /rl/v1/keys/<sha256hex>    a key's record: only the hash of the key, as on one node
//   /rl/v1/key_ids/<id>        <sha256hex>: revoke by id, id uniqueness checked in the txn
//   /rl/v1/plans/<name>        a plan's record
//   /rl/v1/members/<node>      {"public":URL,"admin":URL,"started_at":...}, under the node's lease
//   /rl/v1/owners/<gg>         <node>, under the owner's lease, created only if absent
//   /rl/v1/acks/<node>         the catalog revision the node has applied, under its lease
//   /rl/v1/drains/<node>       present while the node is drained (rlctl cluster drain)
//   /rl/v1/catalog_lock        <node>, under a short lease: one catalog writer at a time

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/api_key.hpp"

namespace rl::cluster::layout {

inline constexpr std::string_view root = "/rl/v1/";
inline constexpr std::string_view config_key = "/rl/v1/config";
inline constexpr std::string_view users_prefix = "/rl/v1/users/";
inline constexpr std::string_view keys_prefix = "/rl/v1/keys/";
inline constexpr std::string_view key_ids_prefix = "/rl/v1/key_ids/";
inline constexpr std::string_view plans_prefix = "/rl/v1/plans/";
inline constexpr std::string_view members_prefix = "/rl/v1/members/";
inline constexpr std::string_view owners_prefix = "/rl/v1/owners/";
inline constexpr std::string_view acks_prefix = "/rl/v1/acks/";
inline constexpr std::string_view drains_prefix = "/rl/v1/drains/";
inline constexpr std::string_view catalog_lock_key = "/rl/v1/catalog_lock";

// The catalog a node watches into its key index: everything that decides a request's answer.
inline constexpr std::string_view catalog_prefixes[] = {users_prefix, keys_prefix, key_ids_prefix,
                                                        plans_prefix};

// G is fixed at `rlctl cluster init`: changing it later moves users between groups.
inline constexpr std::uint32_t default_groups = 32;
inline constexpr std::uint32_t max_groups = 256;  // each group holds at least one route byte

inline bool is_valid_group_count(std::uint32_t groups) noexcept {
    return groups >= 1 && groups <= max_groups;
}

// Node ids appear in etcd keys, HAProxy server names and metrics labels: 1..64 of
// [A-Za-z0-9._-].
inline bool is_valid_node_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 64) return false;
    for (const char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// Groups split the first byte of the route into G contiguous ranges.
inline std::uint32_t group_of_route_byte(std::uint8_t byte, std::uint32_t groups) noexcept {
    return static_cast<std::uint32_t>(byte) * groups / 256;
}

// The group of a route (the 10 lowercase hex digits of `route_of`); nullopt when `route` does
// not start with two of them or `groups` is out of range.
inline std::optional<std::uint32_t> group_of(std::string_view route,
                                             std::uint32_t groups) noexcept {
    if (route.size() < 2 || !is_valid_group_count(groups)) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    const int high = nibble(route[0]);
    const int low = nibble(route[1]);
    if (high < 0 || low < 0) return std::nullopt;
    return group_of_route_byte(static_cast<std::uint8_t>(high * 16 + low), groups);
}

// A node places a user by the user's name, never by the route written in a key: a forged
// `rl_<someone else's route>_...` reaches that route's owner and is refused there. `groups`
// comes from a config already checked with is_valid_group_count.
inline std::uint32_t group_of_user(std::string_view user_name, std::uint32_t groups) {
    return group_of(common::route_of(user_name), groups).value_or(0);
}

// Two decimal digits at least ("00" .. "31", "100" .. "255"), as in HAProxy's rl_gNN.
inline std::string group_label(std::uint32_t group) {
    return group < 10 ? "0" + std::to_string(group) : std::to_string(group);
}

inline std::string user_key(std::string_view name) {
    return std::string(users_prefix) + std::string(name);
}
inline std::string key_key(std::string_view sha256_hex) {
    return std::string(keys_prefix) + std::string(sha256_hex);
}
inline std::string key_id_key(std::string_view key_id) {
    return std::string(key_ids_prefix) + std::string(key_id);
}
inline std::string plan_key(std::string_view name) {
    return std::string(plans_prefix) + std::string(name);
}
inline std::string member_key(std::string_view node) {
    return std::string(members_prefix) + std::string(node);
}
inline std::string owner_key(std::uint32_t group) {
    return std::string(owners_prefix) + group_label(group);
}
inline std::string ack_key(std::string_view node) {
    return std::string(acks_prefix) + std::string(node);
}
inline std::string drain_key(std::string_view node) {
    return std::string(drains_prefix) + std::string(node);
}

// The group named by an owners/ key, or nullopt for anything else.
inline std::optional<std::uint32_t> group_of_owner_key(std::string_view key) noexcept {
    if (key.substr(0, owners_prefix.size()) != owners_prefix) return std::nullopt;
    const std::string_view label = key.substr(owners_prefix.size());
    if (label.size() < 2 || label.size() > 3 || (label.size() == 3 && label[0] == '0'))
        return std::nullopt;
    std::uint32_t group = 0;
    for (const char c : label) {
        if (c < '0' || c > '9') return std::nullopt;
        group = group * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (group >= max_groups || group_label(group) != label) return std::nullopt;
    return group;
}

}  // namespace rl::cluster::layout
