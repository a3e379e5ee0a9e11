// Real nginx (Debian's nginx-light) with the project's deploy/nginx/ratelimitd.conf in front of
// a small upstream, ratelimitd deciding through auth_request.

#include <catch2/catch.hpp>

#include <fstream>

#include "tests/integration/fixture.hpp"
#include "tests/integration/gateway_support.hpp"

using nlohmann::json;
using rl::testing::http_request;

namespace {

// nginx in the foreground, one process, everything under `dir`; the site config is the
// project's, rendered by deploy/nginx/render.sh with the test's ports.
class nginx_gateway {
public:
    nginx_gateway(const rl::testing::temp_dir& dir, int ratelimitd_port, int upstream_port)
        : port_(rl::testing::free_port()) {
        // The project's own way of filling in the addresses, so the script is tested too.
        const auto site = rl::testing::run_command({RL_SOURCE_DIR "/deploy/nginx/render.sh",
                                                    "127.0.0.1:" + std::to_string(ratelimitd_port),
                                                    "127.0.0.1:" + std::to_string(upstream_port),
                                                    "127.0.0.1:" + std::to_string(port_)});
        INFO(site.err);
        REQUIRE(site.exit_code == 0);
        std::ofstream(dir / "site.conf") << site.out;
        std::ofstream conf(dir / "nginx.conf");
        conf << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << dir / "nginx.pid"
             << ";\nerror_log stderr notice;\nevents { worker_connections 64; }\n"
             << "http {\n  access_log off;\n"
             // The site's own settings must win over an http-wide one that lets look-alikes in.
             << "  underscores_in_headers on;\n";
        for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
            conf << "  " << temp << "_temp_path " << dir / "tmp"
                 << ";\n";
        conf << "  include " << dir / "site.conf"
             << ";\n}\n";
        conf.close();
        // nginx's own check of the configuration first.
        const auto checked =
            rl::testing::run_command({rl::testing::find_program("nginx"), "-t", "-p", dir.path(),
                                      "-c", dir / "nginx.conf", "-e", "stderr"});
        INFO(checked.err);
        REQUIRE(checked.exit_code == 0);
        REQUIRE(checked.err.find("test is successful") != std::string::npos);
        process_ = std::make_unique<rl::testing::child_process>(
            std::vector<std::string>{rl::testing::find_program("nginx"), "-p", dir.path(), "-c",
                                     dir / "nginx.conf", "-e", "stderr"},
            dir / "nginx.log");
        process_->wait_until_answering(url("/"));
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::string log() const { return process_->log(); }

private:
    int port_;
    std::unique_ptr<rl::testing::child_process> process_;
};

}  // namespace

TEST_CASE(
    "nginx auth_request: 401 without a key, the upstream's 200 when admitted, 429 past "
    "the limit") {
    rl::testing::live_server ratelimitd;
    ratelimitd.create_user("alice", 3);
    const std::string key = ratelimitd.create_key("alice");

    rl::testing::temp_dir dir;
    const rl::testing::echo_app app(dir);
    nginx_gateway nginx(dir, ratelimitd.process().public_port(), app.port());
    INFO("nginx log:\n" << nginx.log());

    const auto no_key = http_request("GET", nginx.url("/app/orders"));
    REQUIRE(no_key.status == 401);
    REQUIRE(no_key.header("www-authenticate") == "ApiKey header=\"X-API-KEY\"");

    const auto bad_key = http_request("GET", nginx.url("/app/orders"), {"X-API-KEY: nonsense"});
    REQUIRE(bad_key.status == 401);

    const auto two_keys =
        http_request("GET", nginx.url("/app"), {"X-API-KEY: " + key, "X-API-KEY: " + key});
    REQUIRE(two_keys.status == 400);
    REQUIRE(json::parse(two_keys.body).at("status") == 400);

    // A client cannot claim to be someone else: the header is replaced by the user found.
    const auto admitted = http_request("GET", nginx.url("/app/orders?page=2"),
                                       {"X-API-KEY: " + key, "X-RateLimit-User: mallory"});
    REQUIRE(admitted.status == 200);
    const json echo = json::parse(admitted.body);
    REQUIRE(echo.at("path") == "/app/orders");
    REQUIRE(echo.at("headers").at("x-ratelimit-user") == "alice");
    REQUIRE(admitted.header("ratelimit-policy") == "\"default\";q=3;w=1");

    // Nor under another spelling or a look-alike name: only ratelimitd's user reaches it.
    auto forged = rl::testing::forged_identity_headers();
    forged.push_back("X-API-KEY: " + key);
    const auto look_alikes = http_request("POST", nginx.url("/app/orders"), forged, "a=1");
    REQUIRE(look_alikes.status == 200);
    const json look_alikes_echo = json::parse(look_alikes.body);
    INFO(look_alikes_echo.dump());
    REQUIRE(look_alikes_echo.at("body") == "a=1");
    REQUIRE(rl::testing::identity_fields(look_alikes_echo) == std::vector<std::string>{"alice"});

    // Past the limit within the second: 429 with Retry-After, never the upstream.
    rl::testing::require_limited(nginx.url("/app/orders"), key);

    REQUIRE(ratelimitd.admin("PATCH", "/v1/users/alice", {{"disabled", true}}).status == 200);
    REQUIRE(http_request("GET", nginx.url("/app/orders"), {"X-API-KEY: " + key}).status == 403);
}

TEST_CASE("nginx auth_request fails closed with 503 when ratelimitd is down") {
    rl::testing::temp_dir dir;
    const rl::testing::echo_app app(dir);
    nginx_gateway nginx(dir, rl::testing::free_port(), app.port());
    const auto r = http_request("GET", nginx.url("/app"), {"X-API-KEY: rl_x_y"});
    REQUIRE(r.status == 503);
    REQUIRE(r.header("retry-after") == "1");
}
