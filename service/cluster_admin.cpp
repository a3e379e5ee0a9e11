#include "service/cluster_admin.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <thread>

#include "cluster/layout.hpp"
#include "cluster/member_client.hpp"
#include "common/url.hpp"
#include "service/cluster_node.hpp"
#include "service/group_seeds.hpp"

namespace rl::service {

namespace {

using admin::api_request;
using admin::api_response;
using nlohmann::json;

constexpr std::chrono::milliseconds member_timeout{1000};
constexpr std::chrono::seconds drain_wait{60};

api_response problem(int status, std::string_view type, std::string_view title,
                     std::string_view detail) {
    return {status, admin::problem(status, type, title, detail)};
}

api_response etcd_failed(const cluster::etcd_error& error) {
    return problem(503, "etcd-unavailable", "etcd unavailable", error.message);
}

// The request's query again, percent-encoded, with scope=local.
std::string local_query(const api_request& request) {
    std::string query = "?scope=local";
    for (const auto& [name, value] : request.query) {
        if (name == "scope") continue;
        query += "&" + common::url_encode(name) + "=" + common::url_encode(value);
    }
    return query;
}

struct counts {
    std::uint64_t allowed = 0, rejected = 0, shadow_limited = 0;
    void add(const json& j) {
        allowed += j.value("allowed", std::uint64_t{0});
        rejected += j.value("rejected", std::uint64_t{0});
        shadow_limited += j.value("shadow_limited", std::uint64_t{0});
    }
    json to_json() const {
        return json{
            {"allowed", allowed}, {"rejected", rejected}, {"shadow_limited", shadow_limited}};
    }
};

// Sums /v1/usage answers: buckets by start, the total, the widest range.
json sum_over_time(const std::vector<json>& answers) {
    std::map<std::string, counts> buckets;  // RFC 3339 in UTC sorts by time
    counts total;
    json out = answers.front();
    for (const json& a : answers) {
        for (const json& b : a.at("buckets")) buckets[b.at("start").get<std::string>()].add(b);
        total.add(a.at("total"));
        out["since"] = std::min(out["since"].get<std::string>(), a.at("since").get<std::string>());
        out["until"] = std::max(out["until"].get<std::string>(), a.at("until").get<std::string>());
    }
    json rows = json::array();
    for (const auto& [start, c] : buckets) {
        json row = c.to_json();
        row["start"] = start;
        rows.push_back(std::move(row));
    }
    out["buckets"] = std::move(rows);
    out["total"] = total.to_json();
    return out;
}

// Sums /v1/usage/top answers (each asked for every user): a user's counts from every node, then
// ranked again and cut to `limit`.
json sum_top(const std::vector<json>& answers, std::size_t limit, const std::string& by) {
    std::map<std::string, counts> users;
    counts total;
    for (const json& a : answers) {
        std::map<std::string, json> seen;  // every list of one node has the same counts
        for (const char* list : {"by_admitted", "by_rejected", "by_shadow"})
            if (a.contains(list))
                for (const json& row : a.at(list)) seen.emplace(row.at("user"), row);
        for (const auto& [user, row] : seen) users[user].add(row);
        total.add(a.at("total"));
    }
    auto ranked = [&](std::uint64_t counts::*of) {
        std::vector<std::pair<std::string, counts>> rows(users.begin(), users.end());
        std::stable_sort(rows.begin(), rows.end(),
                         [&](const auto& x, const auto& y) { return x.second.*of > y.second.*of; });
        json list = json::array();
        for (const auto& [user, c] : rows) {
            if (list.size() == limit || c.*of == 0) break;
            json row = c.to_json();
            row["user"] = user;
            list.push_back(std::move(row));
        }
        return list;
    };
    json out = answers.front();
    out["limit"] = limit;
    out["total"] = total.to_json();
    out.erase("by_admitted");
    out.erase("by_rejected");
    out.erase("by_shadow");
    if (by.empty() || by == "admitted") out["by_admitted"] = ranked(&counts::allowed);
    if (by.empty() || by == "rejected") out["by_rejected"] = ranked(&counts::rejected);
    if (by == "shadow" || (by.empty() && total.shadow_limited > 0))
        out["by_shadow"] = ranked(&counts::shadow_limited);
    return out;
}

json status_json(const cluster::ownership_status& s) {
    json groups = json::array();
    for (const auto& g : s.groups)
        groups.push_back(json{{"group", g.group},
                              {"owner", g.owner.empty() ? json(nullptr) : json(g.owner)},
                              {"admitting_here", g.admitting}});
    json members = json::array();
    for (const auto& m : s.members)
        members.push_back(json{{"id", m.id}, {"public", m.public_url}, {"admin", m.admin_url}});
    return json{{"node", s.node},
                {"lease_held", s.lease_held},
                {"lease_remaining_s", s.lease_remaining_s},
                {"applied_revision", s.applied_revision},
                {"seen_revision", s.seen_revision},
                {"draining", s.draining},
                {"fences", s.fences},
                {"acquisitions", s.acquisitions},
                {"releases", s.releases},
                {"members", members},
                {"groups", groups}};
}

}  // namespace

std::optional<api_response> cluster_admin::handle(const api_request& request) const {
    const bool usage = request.path == "/v1/usage" || request.path == "/v1/usage/top";
    if (request.path.rfind("/v1/cluster/", 0) != 0 && !usage) return std::nullopt;
    const cluster::ownership* owner = node_.running();
    if (!owner)
        return problem(503, "not-ready", "Not ready", "this node has not joined the cluster yet");
    const cluster::ownership& own = *owner;
    if (request.path == "/v1/cluster/status" && request.method == "GET") return status(own);
    if (request.path == "/v1/cluster/seeds" && request.method == "GET") {
        const auto group = request.query.find("group");
        char* end = nullptr;
        const long g =
            group == request.query.end() ? -1 : std::strtol(group->second.c_str(), &end, 10);
        if (g < 0 || *end != '\0' || g >= static_cast<long>(own.settings().groups))
            return problem(400, "invalid-request", "Invalid request",
                           "group: a group number of this cluster");
        return api_response{200, seeds_.local(static_cast<std::uint32_t>(g))};
    }
    if (request.path == "/v1/cluster/drain" && request.method == "POST")
        return drain(request, true);
    if (request.path == "/v1/cluster/undrain" && request.method == "POST")
        return drain(request, false);
    if (usage && request.method == "GET") {
        const auto scope = request.query.find("scope");
        if (scope != request.query.end() && scope->second == "local") return std::nullopt;
        if (scope != request.query.end() && scope->second != "cluster")
            return problem(400, "invalid-request", "Invalid request",
                           "scope: local (this node) or cluster (every node, the default)");
        return summed_usage(own, request);
    }
    return std::nullopt;
}

api_response cluster_admin::status(const cluster::ownership& owner) const {
    json out = status_json(owner.status());
    const auto drains = node_.etcd().get_prefix(std::string(cluster::layout::drains_prefix));
    if (!drains) return etcd_failed(drains.error());
    json drained = json::array();
    for (const auto& kv : drains->kvs)
        drained.push_back(kv.key.substr(cluster::layout::drains_prefix.size()));
    out["drained"] = std::move(drained);
    out["groups_count"] = owner.settings().groups;
    return {200, out};
}

api_response cluster_admin::drain(const api_request& request, bool on) const {
    json body;
    try {
        body = json::parse(request.body.empty() ? "{}" : request.body);
    } catch (const json::exception&) {
        return problem(400, "invalid-json", "Invalid JSON", "the body is not JSON");
    }
    const std::string node = body.is_object() && body.contains("node") && body["node"].is_string()
                                 ? body["node"].get<std::string>()
                                 : std::string();
    if (!cluster::layout::is_valid_node_id(node))
        return problem(400, "invalid-request", "Invalid request",
                       "node: the id of the node to drain (1-64 of A-Z a-z 0-9 . _ -)");
    const std::string key = cluster::layout::drain_key(node);
    if (!on) {
        const auto erased = node_.etcd().erase(key);
        if (!erased) return etcd_failed(erased.error());
        return {200, json{{"node", node}, {"drained", false}}};
    }
    const auto put = node_.etcd().put(key, "1");
    if (!put) return etcd_failed(put.error());
    const bool wait = !body.contains("wait") || body["wait"] == true;
    std::size_t owned = 0;
    const auto until = std::chrono::steady_clock::now() + drain_wait;
    do {
        const auto owners = node_.etcd().get_prefix(std::string(cluster::layout::owners_prefix));
        if (!owners) return etcd_failed(owners.error());
        owned = std::count_if(owners->kvs.begin(), owners->kvs.end(),
                              [&](const cluster::key_value& kv) { return kv.value == node; });
        if (!wait || owned == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } while (std::chrono::steady_clock::now() < until);
    if (wait && owned > 0)
        return problem(503, "drain-timeout", "Drain not finished",
                       fmt::format("{} still owns {} group(s) after {} s; it goes on draining",
                                   node, owned, drain_wait.count()));
    return {200, json{{"node", node}, {"drained", true}, {"groups_owned", owned}}};
}

api_response cluster_admin::summed_usage(const cluster::ownership& owner,
                                         const api_request& request) const {
    const bool top = request.path == "/v1/usage/top";
    api_request local = request;
    local.query.erase("scope");
    std::size_t limit = 10;
    const std::string by = request.query.count("by") ? request.query.at("by") : "";
    if (top) {
        if (auto it = request.query.find("limit"); it != request.query.end()) {
            char* end = nullptr;
            const long n = std::strtol(it->second.c_str(), &end, 10);
            if (*end != '\0' || n < 1 || n > 10000)
                return problem(400, "invalid-request", "Invalid request",
                               "limit: a whole number from 1 to 10000");
            limit = static_cast<std::size_t>(n);
        }
        local.query["limit"] = "10000";  // every user of every node, ranked again here
        local.query.erase("by");
    }
    const api_response mine = api_.handle(local);
    if (mine.status != 200) return mine;  // a bad query is refused before asking anyone

    std::vector<std::string> ids, urls;
    for (const auto& m : owner.status().members)
        if (m.id != owner.self().id) {
            ids.push_back(m.id);
            urls.push_back(m.admin_url);
        }
    std::string query = local_query(local);
    const auto replies = cluster::get_all(urls, request.path + query, token_, member_timeout);
    std::vector<json> answers{mine.body};
    json nodes = json::array({owner.self().id});
    json partial = json::array();
    for (std::size_t i = 0; i < replies.size(); ++i) {
        json body;
        if (replies[i].answered && replies[i].status == 200) {
            try {
                body = json::parse(replies[i].body);
            } catch (const json::exception&) {
                body = nullptr;
            }
        }
        if (body.is_object()) {
            answers.push_back(std::move(body));
            nodes.push_back(ids[i]);
        } else {
            partial.push_back(ids[i]);
        }
    }
    json out = top ? sum_top(answers, limit, by) : sum_over_time(answers);
    out["nodes"] = std::move(nodes);
    out["partial"] = std::move(partial);
    return {200, out};
}

}  // namespace rl::service
