#include "service/cluster_node.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "cluster/layout.hpp"
#include "cluster/member_client.hpp"
#include "service/group_seeds.hpp"
#include "service/key_index.hpp"
#include "service/limit_handler.hpp"

namespace rl::service {

namespace {

cluster::etcd_options etcd_options_of(const config& cfg) {
    cluster::etcd_options options;
    options.endpoints = cfg.cluster_etcd;
    return options;
}

}  // namespace

cluster_node::cluster_node(const config& cfg, log_function log)
    : cfg_(cfg), log_(std::move(log)), etcd_(etcd_options_of(cfg)) {
    const auto stored = etcd_.get(std::string(cluster::layout::config_key));
    if (!stored)
        throw std::runtime_error(fmt::format("etcd at {}: {}", fmt::join(cfg.cluster_etcd, ","),
                                             stored.error().message));
    if (stored->kvs.empty())
        throw config_error(fmt::format(
            "--cluster-etcd: no cluster configuration at {} in etcd; run rlctl cluster init "
            "--etcd {} first",
            cluster::layout::config_key, fmt::join(cfg.cluster_etcd, ",")));
    try {
        settings_ = cluster::settings_from_json(stored->kvs.front().value);
    } catch (const std::invalid_argument& e) {
        throw config_error(fmt::format("{} in etcd: {}", cluster::layout::config_key, e.what()));
    }
}

cluster_node::~cluster_node() {
    stop();
}

void cluster_node::open_catalog(storage::data_dir& store, key_index& keys) {
    sync_ = std::make_unique<cluster::catalog_sync>(etcd_, store, keys, cfg_.node_id, log_);
    sync_->load();
    writer_ = std::make_unique<cluster::etcd_catalog_writer>(etcd_, *sync_, store.catalog(),
                                                             cfg_.node_id);
}

void cluster_node::seed_group(std::uint32_t group, group_seeds& seeds, const std::string& token) {
    if (!seeds.needed(group)) return;
    std::vector<std::string> ids, urls;
    // Read from etcd, not from the ownership's view: this runs on one of its threads.
    const auto members = etcd_.get_prefix(std::string(cluster::layout::members_prefix));
    if (members)
        for (const auto& kv : members->kvs) {
            const std::string id = kv.key.substr(cluster::layout::members_prefix.size());
            const auto address = nlohmann::json::parse(kv.value, nullptr, false);
            if (id == cfg_.node_id || !address.is_object() || !address.contains("admin")) continue;
            ids.push_back(id);
            urls.push_back(address["admin"].get<std::string>());
        }
    else
        log_(fmt::format("group {}: cannot list members: {}", group, members.error().message));
    const auto replies =
        cluster::get_all(urls, fmt::format("/v1/cluster/seeds?group={}&scope=local", group), token,
                         std::chrono::milliseconds(1000));
    std::vector<nlohmann::json> answers;
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < replies.size(); ++i) {
        nlohmann::json body = nlohmann::json::parse(replies[i].body, nullptr, false);
        if (replies[i].answered && replies[i].status == 200 && body.is_object())
            answers.push_back(std::move(body));
        else
            missing.push_back(ids[i]);
    }
    try {
        const std::size_t users = seeds.rebuild(group, answers);
        log_(fmt::format(
            "group {}: windows longer than 1 s of {} user(s) rebuilt from {} node(s){}", group,
            users, answers.size() + 1,
            missing.empty() ? ""
                            : "; no answer from " + fmt::format("{}", fmt::join(missing, ","))));
    } catch (const std::exception& e) {
        log_(fmt::format("group {}: rebuilding windows longer than 1 s failed: {}", group,
                         e.what()));
    }
}

void cluster_node::start(limit_handler& limit, group_seeds& seeds, const std::string& token) {
    sync_->start();
    cluster::ownership_hooks hooks;
    hooks.applied_revision = [this] { return sync_->applied_revision(); };
    hooks.before_admitting = [this, &seeds, token](std::uint32_t group) {
        seed_group(group, seeds, token);
    };
    hooks.log = log_;
    ownership_ = std::make_unique<cluster::ownership>(
        etcd_, settings_,
        cluster::node_address{cfg_.node_id, cfg_.advertise_public, cfg_.advertise_admin},
        std::move(hooks), cfg_.handback_after);
    ownership_->start();
    limit.set_cluster(ownership_.get());
    running_.store(ownership_.get(), std::memory_order_release);
}

std::optional<gauges::cluster_gauges> cluster_node::metrics_gauges() const {
    const cluster::ownership* running = running_.load(std::memory_order_acquire);
    if (!running) return std::nullopt;
    const cluster::ownership_status s = running->status();
    gauges::cluster_gauges g;
    for (const auto& group : s.groups) g.groups_owned += group.admitting ? 1 : 0;
    g.lease_remaining_s = s.lease_held ? s.lease_remaining_s : 0;
    g.catalog_lag = std::max<std::int64_t>(0, s.seen_revision - s.applied_revision);
    g.fences = s.fences;
    g.acquisitions = s.acquisitions;
    g.releases = s.releases;
    return g;
}

void cluster_node::stop() {
    if (ownership_) ownership_->stop();
    if (sync_) sync_->stop();
}

}  // namespace rl::service
