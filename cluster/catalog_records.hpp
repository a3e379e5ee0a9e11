#pragma once
// Catalog records as etcd holds them: under layout's users/, keys/ and plans/ prefixes, each
// value the storage codec's bytes (what RocksDB holds), so a node's cache stores them as they are.
// And reading a whole prefix of them, a page at a time, at one revision.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "admin/catalog.hpp"
#include "cluster/etcd_client.hpp"

namespace rl::cluster {

std::string etcd_key_of(const storage::plan_record& plan);
std::string etcd_key_of(const storage::user_record& user);
std::string etcd_key_of(const storage::key_record& key);  // keys/<sha256 hex>

// A put of the record, its etcd key and codec bytes.
txn_op put_of(const storage::plan_record& plan);
txn_op put_of(const storage::user_record& user);
txn_op put_of(const storage::key_record& key);
txn_op put_of(const admin::catalog_record& record);

// What a catalog key names: a plan, a user (by name) or a key (by hash).
struct catalog_name {
    enum class kind { plan, user, key };
    kind what = kind::user;
    std::string name;          // plan and user
    storage::key_hash hash{};  // key
};

// nullopt for a key that is no catalog record (key_ids/, members/, anything else).
std::optional<catalog_name> parse_catalog_key(std::string_view key);

// The record a put carries; nullopt when the bytes do not decode.
std::optional<admin::catalog_record> decode_catalog_value(const catalog_name& name,
                                                          std::string_view value);

// Every key under `prefix`, in key order, `page` at a time, all at one revision: `revision` when
// it is not 0, else the first page's (written back, for the next prefix read "at the same
// time"). The etcd error of the first page that fails.
std::optional<etcd_error> for_each_in_prefix(etcd_client& etcd, std::string_view prefix,
                                             std::int64_t& revision, bool keys_only,
                                             const std::function<void(const key_value&)>& visit,
                                             std::int64_t page = 500);

}  // namespace rl::cluster
