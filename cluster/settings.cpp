// TEMPORARY: cluster::to_json and settings_from_json until cluster/ownership.cpp (built
// elsewhere) lands; the merge keeps that file's and drops this one.

#include <nlohmann/json.hpp>

#include <stdexcept>

#include "cluster/layout.hpp"
#include "cluster/ownership.hpp"

namespace rl::cluster {

std::string to_json(const cluster_settings& s) {
    return nlohmann::json{{"groups", s.groups},
                          {"lease_ttl_ms", s.lease_ttl.count()},
                          {"keepalive_ms", s.keepalive.count()},
                          {"fence_ms", s.fence.count()},
                          {"reply_deadline_ms", s.reply_deadline.count()},
                          {"catalog_lag_stop_ms", s.catalog_lag_stop.count()},
                          {"default_limit", s.default_limit}}
        .dump();
}

cluster_settings settings_from_json(const std::string& text) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) throw std::invalid_argument("the cluster config is not a JSON object");
    cluster_settings s;
    auto ms = [&](const char* name, std::chrono::milliseconds fallback) {
        return std::chrono::milliseconds(j.value(name, fallback.count()));
    };
    s.groups = j.value("groups", s.groups);
    s.lease_ttl = ms("lease_ttl_ms", s.lease_ttl);
    s.keepalive = ms("keepalive_ms", s.keepalive);
    s.fence = ms("fence_ms", s.fence);
    s.reply_deadline = ms("reply_deadline_ms", s.reply_deadline);
    s.catalog_lag_stop = ms("catalog_lag_stop_ms", s.catalog_lag_stop);
    s.default_limit = j.value("default_limit", s.default_limit);
    if (!layout::is_valid_group_count(s.groups))
        throw std::invalid_argument("groups must be from 1 to 256");
    if (s.fence.count() != 0 && s.fence < std::chrono::seconds(1) + s.reply_deadline)
        throw std::invalid_argument("fence must be at least 1 s + the reply deadline, or 0");
    return s;
}

}  // namespace rl::cluster
