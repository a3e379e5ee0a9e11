#pragma once
// What the gateway tests (nginx, Caddy) send and check the same way: forged identity headers,
// and what of them reached the application (tests/support/echo_upstream).

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace rl::testing {

// The application behind the gateway: echo_upstream on a free port, logging under `dir`.
class echo_app {
public:
    explicit echo_app(const temp_dir& dir)
        : port_(free_port()),
          process_({RL_ECHO_UPSTREAM_PATH, std::to_string(port_)}, dir / "upstream.log") {
        process_.wait_until_answering("http://127.0.0.1:" + std::to_string(port_) + "/");
    }
    int port() const noexcept { return port_; }

private:
    int port_;
    child_process process_;
};

// Sends `key` to `url` until the gateway answers 429 (timing on a busy machine can let the
// window slide, so it does not assume which request), and checks that 429 is ratelimitd's.
inline void require_limited(const std::string& url, const std::string& key) {
    http_response limited;
    for (int i = 0; i < 50 && limited.status != 429; ++i) {
        limited = http_request("GET", url, {"X-API-KEY: " + key});
        REQUIRE((limited.status == 200 || limited.status == 429));
    }
    REQUIRE(limited.status == 429);
    REQUIRE(std::stoi(limited.header("retry-after")) >= 1);
    REQUIRE(limited.header("ratelimit").find("r=0") != std::string::npos);
    REQUIRE(nlohmann::json::parse(limited.body).at("status") == 429);
}

// A client claiming to be someone else: the real header, other spellings of it, and look-alikes
// that frameworks read as the same variable (CGI, WSGI, Rack: HTTP_X_RATELIMIT_USER).
inline std::vector<std::string> forged_identity_headers() {
    return {"X-RateLimit-User: mallory", "x-ratelimit-user: mallory", "X_RateLimit_User: admin",
            "X-Ratelimit_User: admin", "X_RATELIMIT-USER: admin"};
}

// The values of every field the application received that such a framework would read as
// X-RateLimit-User (the name lower-cased, '_' as '-'), from echo_upstream's "fields".
inline std::vector<std::string> identity_fields(const nlohmann::json& echo) {
    std::vector<std::string> values;
    for (const auto& field : echo.at("fields")) {
        std::string name = field.at(0).get<std::string>();
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
            return c == '_' ? '-' : static_cast<char>(std::tolower(c));
        });
        if (name == "x-ratelimit-user") values.push_back(field.at(1).get<std::string>());
    }
    return values;
}

}  // namespace rl::testing
