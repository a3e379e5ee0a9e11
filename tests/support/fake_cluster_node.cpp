// A stand-in cluster node for HAProxy tests: owns some groups and answers like a node would.
// /readyz?group=G is 200 only for an owned group; any other request is placed in a group by the
// route of its X-API-KEY (`rl_<route>_...`, or `imported-<route>` standing in for an imported
// key whose user the node would look up) and answered 200 by the owner, 503 not-owner by
// anyone else; both bodies name the node. Usage: fake_cluster_node PORT NODE_ID GROUPS OWNED
// where OWNED is a comma-separated list of groups.

#include <restinio/all.hpp>

#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "cluster/layout.hpp"

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: fake_cluster_node PORT NODE_ID GROUPS OWNED\n";
        return 2;
    }
    const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    const std::string node = argv[2];
    const auto groups = static_cast<std::uint32_t>(std::atoi(argv[3]));
    std::set<std::uint32_t> owned;
    std::stringstream list(argv[4]);
    for (std::string item; std::getline(list, item, ',');)
        if (!item.empty()) owned.insert(static_cast<std::uint32_t>(std::stoul(item)));

    restinio::run(
        restinio::on_this_thread()
            .address("127.0.0.1")
            .port(port)
            .request_handler([&](const restinio::request_handle_t& req) {
                auto reply = [&](restinio::http_status_line_t status, const std::string& reason) {
                    auto response = req->create_response(status);
                    if (!reason.empty()) response.append_header("X-RateLimit-Reason", reason);
                    return response.set_body(node).done();
                };
                const auto query = restinio::parse_query(req->header().query());
                if (req->header().path() == "/readyz") {
                    if (!query.has("group")) return reply(restinio::status_ok(), "");
                    const auto group =
                        static_cast<std::uint32_t>(std::stoul(std::string(query["group"])));
                    return owned.count(group)
                               ? reply(restinio::status_ok(), "")
                               : reply(restinio::status_service_unavailable(), "not-owner");
                }
                const std::string key = req->header().get_field_or("X-API-KEY", "");
                std::string route;
                if (key.rfind("rl_", 0) == 0) route = key.substr(3, 10);
                if (key.rfind("imported-", 0) == 0) route = key.substr(9);
                const auto group = rl::cluster::layout::group_of(route, groups);
                if (!group) return reply(restinio::status_unauthorized(), "");
                return owned.count(*group)
                           ? reply(restinio::status_ok(), "")
                           : reply(restinio::status_service_unavailable(), "not-owner");
            }));
}
