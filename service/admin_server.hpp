#pragma once
// The admin listener's HTTP layer: bearer token, /healthz, /metrics, then the JSON admin API.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "admin/admin_api.hpp"
#include "common/api_key.hpp"
#include "service/public_replies.hpp"

namespace rl::service {

class admin_server {
public:
    // A storage error an admin call meets is known to storage's health already (which starts
    // recovery); the reply only reports it.
    admin_server(const admin::admin_api& api, std::string token,
                 std::function<std::string()> render_metrics)
        : api_(api),
          token_digest_(common::sha256(token)),
          render_metrics_(std::move(render_metrics)) {}

    // `path` and `query` are the raw (still percent-encoded) parts of the request target.
    http_reply handle(std::string_view method, std::string_view path, std::string_view query,
                      std::optional<std::string_view> authorization, std::string body) const;

private:
    bool authorized(std::optional<std::string_view> authorization) const noexcept;

    const admin::admin_api& api_;
    common::key_hash token_digest_;  // only the digest is kept and compared
    std::function<std::string()> render_metrics_;
};

// Reads <data_dir>/admin.token, or creates it (mode 0600) with a fresh random token.
std::string load_or_create_admin_token(const std::string& data_dir);

}  // namespace rl::service
