#pragma once
// A running ratelimitd over a temporary data directory, with shortcuts for the admin API.

#include <memory>
#include <string>
#include <vector>

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

private:
    temp_dir dir_;
    std::vector<std::string> args_;
    std::vector<std::string> env_;
    std::unique_ptr<server_process> process_;
};

}  // namespace rl::testing
