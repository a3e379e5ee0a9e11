#pragma once
// The admin listener's HTTP layer: bearer token, /healthz, /metrics, then the JSON admin API.
// Two tokens: the full one may do anything; the read-only one GET routes and /metrics only.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "admin/admin_api.hpp"
#include "common/api_key.hpp"
#include "service/audit_log.hpp"
#include "service/public_replies.hpp"

namespace rl::service {

class admin_server {
public:
    // A storage error an admin call meets is known to storage's health already (which starts
    // recovery); the reply only reports it.
    // `audit` (may be null: off) gets one line per change.
    admin_server(const admin::admin_api& api, std::string_view token,
                 std::string_view readonly_token, std::function<std::string()> render_metrics,
                 audit_log* audit = nullptr)
        : api_(api),
          token_digest_(common::sha256(token)),
          readonly_digest_(common::sha256(readonly_token)),
          render_metrics_(std::move(render_metrics)),
          audit_(audit) {}

    // `path` and `query` are the raw (still percent-encoded) parts of the request target;
    // `remote` is the client's address, for the audit log.
    // Routes answered before the admin API's (cluster mode's); nullopt passes a request on.
    using extension = std::function<std::optional<admin::api_response>(const admin::api_request&)>;
    void extend(extension routes) { extension_ = std::move(routes); }

    http_reply handle(std::string_view method, std::string_view path, std::string_view query,
                      std::optional<std::string_view> authorization, std::string body,
                      std::string_view remote = {}) const;

private:
    enum class token_kind { none, full, read_only };
    token_kind authorize(std::optional<std::string_view> authorization) const noexcept;
    void audit(token_kind token, std::string_view method, std::string_view path,
               std::string_view remote, int status, nlohmann::json before,
               nlohmann::json after) const;

    const admin::admin_api& api_;
    common::key_hash token_digest_;  // only the digests are kept and compared
    common::key_hash readonly_digest_;
    std::function<std::string()> render_metrics_;
    audit_log* audit_;
    extension extension_;
};

// Reads <data_dir>/<file> (admin.token, admin.readonly.token), or creates it (mode 0600) with a
// fresh random token.
std::string load_or_create_token(const std::string& data_dir, std::string_view file);

}  // namespace rl::service
