#pragma once
// A running ratelimitd over a temporary data directory, with shortcuts for the admin API.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace rl::testing {

struct admin_reply {
    int status = 0;
    nlohmann::json body;
};

class live_server {
public:
    explicit live_server(std::vector<std::string> args = {}, std::vector<std::string> env = {})
        : args_(std::move(args)), env_(std::move(env)) {
        start();
    }

    void start() { process_ = std::make_unique<server_process>(dir_ / "data", args_, env_); }
    int stop() { return process_->stop(); }
    void kill_hard() { process_->kill_hard(); }
    server_process& process() { return *process_; }
    std::string data_dir() const { return dir_ / "data"; }
    const temp_dir& dir() const { return dir_; }

    admin_reply admin(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr) {
        const auto r = http_request(
            method, process_->admin_url() + path,
            {"Authorization: Bearer " + process_->admin_token(), "Content-Type: application/json"},
            body.is_null() ? std::string() : body.dump());
        return {r.status, nlohmann::json::parse(r.body, nullptr, false)};
    }

    void create_user(const std::string& name, int limit = 0) {
        nlohmann::json body = {{"name", name}};
        if (limit > 0) body["limit"] = limit;
        const auto r = admin("POST", "/v1/users", body);
        if (r.status != 201) throw std::runtime_error("create user: " + r.body.dump());
    }

    // Returns the plain key.
    std::string create_key(const std::string& user, const std::string& expires = {}) {
        nlohmann::json body = {{"user", user}};
        if (!expires.empty()) body["expires"] = expires;
        const auto r = admin("POST", "/v1/keys", body);
        if (r.status != 201) throw std::runtime_error("create key: " + r.body.dump());
        return r.body.at("key").get<std::string>();
    }

    http_response limit(const std::string& key, const std::string& method = "GET") {
        return http_request(method, process_->public_url() + "/limit", {"X-API-KEY: " + key});
    }

    // `n` requests in a row with `key`. A limit of L admits exactly L of them only when all were
    // sent and answered within one second; a slower run may see the window slide, never admit
    // more than L per second it took.
    struct burst_result {
        int admitted = 0;
        std::chrono::steady_clock::duration took{};
        bool within_a_second() const { return took < std::chrono::seconds(1); }
        int most_admitted(int limit) const {
            return limit *
                   static_cast<int>(1 + std::chrono::ceil<std::chrono::seconds>(took).count());
        }
    };
    burst_result burst(const std::string& key, int n) {
        burst_result result;
        const auto began = std::chrono::steady_clock::now();
        for (int i = 0; i < n; ++i) result.admitted += limit(key).status == 200;
        result.took = std::chrono::steady_clock::now() - began;
        return result;
    }

private:
    temp_dir dir_;
    std::vector<std::string> args_;
    std::vector<std::string> env_;
    std::unique_ptr<server_process> process_;
};

// What a limit of `limit` admits of a burst: exactly that within one second, and otherwise at
// least that and no more than the limit per second the burst took.
inline void require_limit_held(const live_server::burst_result& burst, int limit) {
    INFO(burst.admitted << " admitted in " << std::chrono::duration<double>(burst.took).count()
                        << " s");
    if (burst.within_a_second()) {
        REQUIRE(burst.admitted == limit);
    } else {
        WARN("the requests took longer than a second; the window may have slid");
        REQUIRE(burst.admitted >= limit);
        REQUIRE(burst.admitted <= burst.most_admitted(limit));
    }
}

}  // namespace rl::testing
