// Real Caddy (Debian's caddy) with the project's deploy/caddy/Caddyfile in front of a small
// upstream, ratelimitd deciding through the forward_auth check.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "tests/integration/fixture.hpp"
#include "tests/integration/gateway_support.hpp"

using nlohmann::json;
using rl::testing::http_request;

namespace {

const std::string caddyfile = RL_SOURCE_DIR "/deploy/caddy/Caddyfile";

// Caddy in the foreground with the project's Caddyfile as it is, the addresses from the
// environment (as Debian's unit passes them with --environ); its state under `dir`.
class caddy_gateway {
public:
    caddy_gateway(const rl::testing::temp_dir& dir, int ratelimitd_port, int upstream_port)
        : port_(rl::testing::free_port()) {
        env_ = {"CADDY_SITE=http://127.0.0.1:" + std::to_string(port_),
                "RATELIMITD_ADDRESS=127.0.0.1:" + std::to_string(ratelimitd_port),
                "APP_ADDRESS=127.0.0.1:" + std::to_string(upstream_port),
                "CADDY_ADMIN=off",
                "HOME=" + dir.path(),
                "XDG_CONFIG_HOME=" + dir / "config",
                "XDG_DATA_HOME=" + dir / "data"};
        std::vector<std::string> argv = {"/usr/bin/env"};
        argv.insert(argv.end(), env_.begin(), env_.end());
        argv.push_back(rl::testing::find_program("caddy"));
        argv.insert(argv.end(), {"run", "--config", caddyfile, "--adapter", "caddyfile"});
        process_ = std::make_unique<rl::testing::child_process>(argv, dir / "caddy.log");
        process_->wait_until_answering(url("/"));
    }

    // `caddy <args>` with the same environment.
    rl::testing::command_result caddy(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {rl::testing::find_program("caddy")};
        argv.insert(argv.end(), args.begin(), args.end());
        return rl::testing::run_command(argv, env_);
    }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    std::string log() const { return process_->log(); }

private:
    int port_;
    std::vector<std::string> env_;
    std::unique_ptr<rl::testing::child_process> process_;
};

}  // namespace

TEST_CASE("the Caddyfile passes caddy validate and caddy fmt") {
    rl::testing::live_server ratelimitd;
    rl::testing::temp_dir dir;
    const rl::testing::echo_app app(dir);
    caddy_gateway caddy(dir, ratelimitd.process().public_port(), app.port());

    const auto validated = caddy.caddy({"validate", "--config", caddyfile});
    INFO(validated.out << validated.err);
    REQUIRE(validated.exit_code == 0);
    REQUIRE((validated.out + validated.err).find("Valid configuration") != std::string::npos);

    // Also with the defaults written in the file, as a copy to /etc/caddy runs without them.
    const auto defaults = rl::testing::run_command(
        {rl::testing::find_program("caddy"), "adapt", "--config", caddyfile},
        {"HOME=" + dir.path()});
    INFO(defaults.err);
    REQUIRE(defaults.exit_code == 0);
    const json adapted = json::parse(defaults.out);
    REQUIRE(adapted.at("apps").at("http").at("servers").size() == 1);
    REQUIRE(defaults.out.find("127.0.0.1:8080") != std::string::npos);

    const auto formatted = caddy.caddy({"fmt", caddyfile});
    std::ifstream in(caddyfile);
    std::stringstream text;
    text << in.rdbuf();
    REQUIRE(formatted.exit_code == 0);
    REQUIRE(formatted.out == text.str());
}

TEST_CASE(
    "Caddy forward_auth: 401, 400, 403 and 429 pass through, the user is ratelimitd's, the 200 "
    "carries the RateLimit headers") {
    rl::testing::live_server ratelimitd;
    ratelimitd.create_user("alice", 3);
    const std::string key = ratelimitd.create_key("alice");
    rl::testing::temp_dir dir;
    const rl::testing::echo_app app(dir);
    caddy_gateway caddy(dir, ratelimitd.process().public_port(), app.port());
    INFO("caddy log:\n" << caddy.log());

    const auto no_key = http_request("GET", caddy.url("/app/orders"));
    REQUIRE(no_key.status == 401);
    REQUIRE(no_key.header("www-authenticate") == "ApiKey header=\"X-API-KEY\"");
    REQUIRE(json::parse(no_key.body).at("status") == 401);
    REQUIRE(http_request("GET", caddy.url("/app"), {"X-API-KEY: nonsense"}).status == 401);

    const auto two_keys =
        http_request("GET", caddy.url("/app"), {"X-API-KEY: " + key, "X-API-KEY: " + key});
    REQUIRE(two_keys.status == 400);
    REQUIRE(json::parse(two_keys.body).at("status") == 400);

    // A client cannot claim to be someone else, under the real name or a look-alike.
    auto forged = rl::testing::forged_identity_headers();
    forged.push_back("X-API-KEY: " + key);
    const auto admitted = http_request("POST", caddy.url("/app/orders?page=2"), forged, "a=1");
    REQUIRE(admitted.status == 200);
    const json echo = json::parse(admitted.body);
    INFO(echo.dump());
    REQUIRE(echo.at("path") == "/app/orders");
    REQUIRE(echo.at("method") == "POST");
    REQUIRE(echo.at("body") == "a=1");
    REQUIRE(rl::testing::identity_fields(echo) == std::vector<std::string>{"alice"});
    REQUIRE(admitted.header("ratelimit-policy") == "\"default\";q=3;w=1");
    REQUIRE(admitted.header("ratelimit").find(";r=") != std::string::npos);

    rl::testing::require_limited(caddy.url("/app/orders"), key);

    REQUIRE(ratelimitd.admin("PATCH", "/v1/users/alice", {{"disabled", true}}).status == 200);
    const auto disabled = http_request("GET", caddy.url("/app/orders"), {"X-API-KEY: " + key});
    REQUIRE(disabled.status == 403);
    REQUIRE(json::parse(disabled.body).at("status") == 403);
}

TEST_CASE("Caddy fails closed with 503 and Retry-After when ratelimitd is down") {
    rl::testing::temp_dir dir;
    const rl::testing::echo_app app(dir);
    caddy_gateway caddy(dir, rl::testing::free_port(), app.port());
    const auto r = http_request("GET", caddy.url("/app"), {"X-API-KEY: rl_x_y"});
    REQUIRE(r.status == 503);
    REQUIRE(r.header("retry-after") == "1");
    REQUIRE(json::parse(r.body).at("status") == 503);
}

TEST_CASE("Caddy answers 502 when ratelimitd admits but the application is down") {
    rl::testing::live_server ratelimitd;
    ratelimitd.create_user("bob", 5);
    const std::string key = ratelimitd.create_key("bob");
    rl::testing::temp_dir dir;
    caddy_gateway caddy(dir, ratelimitd.process().public_port(), rl::testing::free_port());
    REQUIRE(http_request("GET", caddy.url("/app"), {"X-API-KEY: " + key}).status == 502);
}
