// Real nginx (Debian's nginx-light) with the project's deploy/nginx/ratelimitd.conf in front of
// a small upstream, ratelimitd deciding through auth_request.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/integration/fixture.hpp"

using nlohmann::json;
using rl::testing::http_request;

namespace {

// Replaces the one occurrence of `from`; a config that no longer has it fails the test.
void replace_once(std::string& text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    INFO("deploy/nginx/ratelimitd.conf should contain '" << from << "'");
    REQUIRE(at != std::string::npos);
    REQUIRE(text.find(from, at + 1) == std::string::npos);
    text.replace(at, from.size(), to);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// nginx in the foreground, one process, everything under `dir`; the site config is the
// project's, with its three addresses pointed at the test's ports.
class nginx_gateway {
public:
    nginx_gateway(const rl::testing::temp_dir& dir, int ratelimitd_port, int upstream_port)
        : port_(rl::testing::free_port()) {
        std::string site = read_file(RL_SOURCE_DIR "/deploy/nginx/ratelimitd.conf");
        replace_once(site, "server 127.0.0.1:8080;",
                     "server 127.0.0.1:" + std::to_string(ratelimitd_port) + ";");
        replace_once(site, "server 127.0.0.1:3000;",
                     "server 127.0.0.1:" + std::to_string(upstream_port) + ";");
        replace_once(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(port_) + ";");
        std::ofstream(dir / "site.conf") << site;
        std::ofstream(dir / "nginx.conf")
            << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            << "pid " << dir / "nginx.pid"
            << ";\nerror_log stderr notice;\n"
            << "events { worker_connections 64; }\n"
            << "http {\n  access_log off;\n"
            << "  client_body_temp_path " << dir / "tmp"
            << ";\n  proxy_temp_path " << dir / "tmp"
            << ";\n  fastcgi_temp_path " << dir / "tmp"
            << ";\n  uwsgi_temp_path " << dir / "tmp"
            << ";\n  scgi_temp_path " << dir / "tmp"
            << ";\n"
            << "  include " << dir / "site.conf"
            << ";\n}\n";
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
    const int upstream_port = rl::testing::free_port();
    rl::testing::child_process upstream({RL_ECHO_UPSTREAM_PATH, std::to_string(upstream_port)},
                                        dir / "upstream.log");
    upstream.wait_until_answering("http://127.0.0.1:" + std::to_string(upstream_port) + "/");
    nginx_gateway nginx(dir, ratelimitd.process().public_port(), upstream_port);
    INFO("nginx log:\n" << nginx.log());

    const auto no_key = http_request("GET", nginx.url("/app/orders"));
    REQUIRE(no_key.status == 401);
    REQUIRE(no_key.header("www-authenticate") == "ApiKey header=\"X-API-KEY\"");

    const auto bad_key = http_request("GET", nginx.url("/app/orders"), {"X-API-KEY: nonsense"});
    REQUIRE(bad_key.status == 401);

    // A client cannot claim to be someone else: the header is replaced by the user found.
    const auto admitted = http_request("GET", nginx.url("/app/orders?page=2"),
                                       {"X-API-KEY: " + key, "X-RateLimit-User: mallory"});
    REQUIRE(admitted.status == 200);
    const json echo = json::parse(admitted.body);
    REQUIRE(echo.at("path") == "/app/orders");
    REQUIRE(echo.at("headers").at("x-ratelimit-user") == "alice");
    REQUIRE(admitted.header("ratelimit-policy") == "\"default\";q=3;w=1");

    // Past the limit within the second: 429 with Retry-After, never the upstream. Timing on a
    // busy machine can let the window slide, so send until one is limited rather than assume.
    rl::testing::http_response limited;
    for (int i = 0; i < 50 && limited.status != 429; ++i) {
        limited = http_request("GET", nginx.url("/app/orders"), {"X-API-KEY: " + key});
        REQUIRE((limited.status == 200 || limited.status == 429));
    }
    REQUIRE(limited.status == 429);
    REQUIRE(std::stoi(limited.header("retry-after")) >= 1);
    REQUIRE(limited.header("ratelimit").find("r=0") != std::string::npos);
    REQUIRE(json::parse(limited.body).at("status") == 429);

    REQUIRE(ratelimitd.admin("PATCH", "/v1/users/alice", {{"disabled", true}}).status == 200);
    REQUIRE(http_request("GET", nginx.url("/app/orders"), {"X-API-KEY: " + key}).status == 403);
}

TEST_CASE("nginx auth_request fails closed with 503 when ratelimitd is down") {
    rl::testing::temp_dir dir;
    const int upstream_port = rl::testing::free_port();
    rl::testing::child_process upstream({RL_ECHO_UPSTREAM_PATH, std::to_string(upstream_port)},
                                        dir / "upstream.log");
    upstream.wait_until_answering("http://127.0.0.1:" + std::to_string(upstream_port) + "/");
    nginx_gateway nginx(dir, rl::testing::free_port(), upstream_port);
    const auto r = http_request("GET", nginx.url("/app"), {"X-API-KEY: rl_x_y"});
    REQUIRE(r.status == 503);
    REQUIRE(r.header("retry-after") == "1");
}
