#include "cluster/haproxy_config.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cluster/layout.hpp"
#include "common/api_key.hpp"

using rl::cluster::haproxy_node;
using rl::cluster::render_haproxy_config;

namespace {

const std::vector<haproxy_node> three_nodes = {{"rl1", "127.0.0.1:18081"},
                                               {"rl2", "http://127.0.0.1:18082"},
                                               {"rl3", "http://localhost:18083/"}};

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

// The lines of `backend name`, up to the next section.
std::string section(const std::string& config, const std::string& header) {
    const auto start = config.find("\n" + header + "\n");
    REQUIRE(start != std::string::npos);
    const auto end = config.find("\nbackend ", start + 1);
    return config.substr(start, end == std::string::npos ? std::string::npos : end + 1 - start);
}

}  // namespace

TEST_CASE("haproxy config: one checked backend per group with every node, and rl_any") {
    const auto files = render_haproxy_config(three_nodes, 32);
    REQUIRE(count_of(files.config, "\nbackend rl_g") == 32);
    REQUIRE(count_of(files.config, "\nbackend rl_any\n") == 1);
    for (std::uint32_t group : {0u, 7u, 31u}) {
        const std::string label = rl::cluster::layout::group_label(group);
        const std::string backend = section(files.config, "backend rl_g" + label);
        REQUIRE(backend.find("option httpchk GET /readyz?group=" + std::to_string(group) + "\n") !=
                std::string::npos);
        REQUIRE(backend.find("http-check expect status 200") != std::string::npos);
        REQUIRE(backend.find("default-server check inter 250ms fall 2 rise 1") !=
                std::string::npos);
        REQUIRE(backend.find("server rl1 127.0.0.1:18081\n") != std::string::npos);
        REQUIRE(backend.find("server rl2 127.0.0.1:18082\n") != std::string::npos);
        REQUIRE(backend.find("server rl3 localhost:18083\n") != std::string::npos);
        // While the group has no owner, requests still reach a node (401 for a revoked key).
        REQUIRE(backend.find("option allbackups\n") != std::string::npos);
        REQUIRE(backend.find("server rl1:any 127.0.0.1:18081 backup no-check\n") !=
                std::string::npos);
        REQUIRE(count_of(backend, " backup no-check\n") == 3);
    }
    const std::string any = section(files.config, "backend rl_any");
    REQUIRE(any.find("balance random\n") != std::string::npos);
    REQUIRE(any.find("retries 30\n") != std::string::npos);
    REQUIRE(any.find("option httpchk GET /readyz\n") != std::string::npos);
    REQUIRE(any.find("default-server check inter 500ms fall 2 rise 2") != std::string::npos);
    REQUIRE(count_of(any, "    server ") == 3);
}

TEST_CASE("haproxy config: the design's timeouts and retries on 503 not-owner") {
    const auto files = render_haproxy_config(three_nodes, 32);
    for (const char* line :
         {"    timeout connect 100ms\n", "    timeout server  250ms\n",
          "    timeout check   200ms\n", "    retries 3\n", "    option redispatch 1\n",
          "    retry-on conn-failure empty-response 503\n", "    bind 127.0.0.1:8090\n",
          "    stats socket /run/haproxy/rl.sock mode 600 level admin\n",
          "    use_backend %[var(txn.route),map_beg(/etc/haproxy/rl-groups.map,rl_any)] if "
          "rl_routed\n",
          "    default_backend rl_any\n"})
        REQUIRE(files.config.find(line) != std::string::npos);

    rl::cluster::haproxy_options options;
    options.listen = "0.0.0.0:9000";
    options.timeout_server = std::chrono::milliseconds(400);
    options.map_path = "/tmp/x/rl-groups.map";
    options.stats_socket = "";
    std::vector<haproxy_node> many;
    for (int i = 1; i <= 6; ++i)
        many.push_back({"n" + std::to_string(i), "10.0.0." + std::to_string(i) + ":8080"});
    const auto custom = render_haproxy_config(many, 8, options);
    REQUIRE(custom.config.find("    bind 0.0.0.0:9000\n") != std::string::npos);
    REQUIRE(custom.config.find("    timeout server  400ms\n") != std::string::npos);
    REQUIRE(custom.config.find("map_beg(/tmp/x/rl-groups.map,rl_any)") != std::string::npos);
    REQUIRE(custom.config.find("stats socket") == std::string::npos);
    // An imported key walks every node to find its owner.
    REQUIRE(custom.config.find("    retries 5\n") != std::string::npos);
}

TEST_CASE("haproxy map: 256 route bytes, each to the backend of its group") {
    for (std::uint32_t groups : {1u, 3u, 32u, 64u, 256u}) {
        const auto files = render_haproxy_config(three_nodes, groups);
        std::istringstream lines(files.group_map);
        std::string prefix, backend;
        unsigned byte = 0;
        while (lines >> prefix >> backend) {
            char hex[3];
            std::snprintf(hex, sizeof hex, "%02x", byte);
            REQUIRE(prefix == hex);
            // The same group a node computes for a user whose route starts with that byte.
            const auto group = rl::cluster::layout::group_of(prefix + "00000000", groups);
            REQUIRE(group.has_value());
            REQUIRE(backend == "rl_g" + rl::cluster::layout::group_label(*group));
            ++byte;
        }
        REQUIRE(byte == 256);
    }
    const auto files = render_haproxy_config(three_nodes, 32);
    REQUIRE(files.group_map.rfind("00 rl_g00\n01 rl_g00\n", 0) == 0);
    REQUIRE(files.group_map.find("07 rl_g00\n08 rl_g01\n") != std::string::npos);
    REQUIRE(files.group_map.find("ff rl_g31\n") != std::string::npos);
}

TEST_CASE("haproxy frontend: a route only from an rl_ key with 10 hex digits") {
    const auto files = render_haproxy_config(three_nodes, 32);
    REQUIRE(files.config.find("acl rl_key req.hdr(x-api-key) -m beg rl_\n") != std::string::npos);
    REQUIRE(files.config.find(
                "http-request set-var(txn.route) req.hdr(x-api-key),field(2,_) if rl_key\n") !=
            std::string::npos);
    REQUIRE(files.config.find("acl rl_routed var(txn.route) -m reg ^[0-9a-f]{10}$\n") !=
            std::string::npos);
}

TEST_CASE("haproxy config refuses what would make a broken or unsafe file") {
    REQUIRE_THROWS_WITH(render_haproxy_config({}, 32), Catch::Contains("no nodes"));
    REQUIRE_THROWS_WITH(render_haproxy_config(three_nodes, 0), Catch::Contains("groups"));
    REQUIRE_THROWS_WITH(render_haproxy_config(three_nodes, 257), Catch::Contains("groups"));
    REQUIRE_THROWS_WITH(render_haproxy_config({{"rl1", "a:1"}, {"rl1", "b:2"}}, 32),
                        Catch::Contains("twice"));
    REQUIRE_THROWS_WITH(render_haproxy_config({{"rl 1", "a:1"}}, 32), Catch::Contains("node id"));
    for (const char* address : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
                                "https://a:1", "a:1\nbackend x", "a b:1", "a:1/path", ":80"}) {
        INFO(address);
        REQUIRE_THROWS_WITH(render_haproxy_config({{"rl1", address}}, 32),
                            Catch::Contains("host:port"));
    }
    rl::cluster::haproxy_options bad_map;
    bad_map.map_path = "/etc/haproxy/a map";
    REQUIRE_THROWS_WITH(render_haproxy_config(three_nodes, 32, bad_map), Catch::Contains("map"));
}

TEST_CASE("deploy/cluster's HAProxy files are what haproxy-config writes for its three nodes",
          "[haproxy]") {
    // The compose file's nodes rl1..rl3 on port 8090; regenerate the files when this fails.
    rl::cluster::haproxy_options options;
    options.listen = "0.0.0.0:8090";
    options.map_path = "/etc/haproxy/rl-groups.map";
    options.stats_socket = "";
    const auto files = render_haproxy_config(
        {{"rl1", "rl1:8080"}, {"rl2", "rl2:8080"}, {"rl3", "rl3:8080"}}, 32, options);
    auto read = [](const std::string& name) {
        std::ifstream in(std::string(RL_SOURCE_DIR) + "/deploy/cluster/" + name);
        REQUIRE(in);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    };
    CHECK(read("haproxy.cfg") == files.config);
    CHECK(read("rl-groups.map") == files.group_map);
}
