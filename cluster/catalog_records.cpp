#include "cluster/catalog_records.hpp"

#include "cluster/layout.hpp"
#include "storage/codec.hpp"

namespace rl::cluster {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

std::string_view view(const storage::key_hash& hash) {
    return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

}  // namespace

std::string etcd_key_of(const storage::plan_record& plan) {
    return layout::plan_key(plan.name);
}

std::string etcd_key_of(const storage::user_record& user) {
    return layout::user_key(user.name);
}

std::string etcd_key_of(const storage::key_record& key) {
    return layout::key_key(common::to_hex(key.hash.data(), key.hash.size()));
}

txn_op put_of(const storage::plan_record& plan) {
    return txn_op::put(etcd_key_of(plan), storage::codec::encode_plan(plan));
}

txn_op put_of(const storage::user_record& user) {
    return txn_op::put(etcd_key_of(user), storage::codec::encode_user(user));
}

txn_op put_of(const storage::key_record& key) {
    return txn_op::put(etcd_key_of(key), storage::codec::encode_key(key));
}

txn_op put_of(const admin::catalog_record& record) {
    return std::visit([](const auto& r) { return put_of(r); }, record);
}

std::optional<catalog_name> parse_catalog_key(std::string_view key) {
    if (starts_with(key, layout::users_prefix)) {
        const auto name = key.substr(layout::users_prefix.size());
        if (name.empty()) return std::nullopt;
        return catalog_name{catalog_name::kind::user, std::string(name), {}};
    }
    if (starts_with(key, layout::plans_prefix)) {
        const auto name = key.substr(layout::plans_prefix.size());
        if (name.empty()) return std::nullopt;
        return catalog_name{catalog_name::kind::plan, std::string(name), {}};
    }
    if (starts_with(key, layout::keys_prefix)) {
        const auto hash = common::parse_key_hash(key.substr(layout::keys_prefix.size()));
        if (!hash) return std::nullopt;
        return catalog_name{catalog_name::kind::key, {}, *hash};
    }
    return std::nullopt;
}

std::optional<admin::catalog_record> decode_catalog_value(const catalog_name& name,
                                                          std::string_view value) {
    switch (name.what) {
        case catalog_name::kind::plan:
            if (auto plan = storage::codec::decode_plan(name.name, value)) return *plan;
            return std::nullopt;
        case catalog_name::kind::user:
            if (auto user = storage::codec::decode_user(name.name, value)) return *user;
            return std::nullopt;
        case catalog_name::kind::key:
            if (auto key = storage::codec::decode_key(view(name.hash), value)) return *key;
            return std::nullopt;
    }
    return std::nullopt;
}

std::optional<etcd_error> for_each_in_prefix(etcd_client& etcd, std::string_view prefix,
                                             std::int64_t& revision, bool keys_only,
                                             const std::function<void(const key_value&)>& visit,
                                             std::int64_t page) {
    std::string from(prefix);
    const std::string end = prefix_range_end(std::string(prefix));
    for (;;) {
        range_options options;
        options.limit = page;
        options.revision = revision;
        options.keys_only = keys_only;
        auto got = etcd.get_range(from, end, options);
        if (!got) return got.error();
        if (revision == 0) revision = got->revision;
        for (const auto& kv : got->kvs) visit(kv);
        if (!got->more || got->kvs.empty()) return std::nullopt;
        from = got->kvs.back().key + std::string(1, '\0');
    }
}

}  // namespace rl::cluster
