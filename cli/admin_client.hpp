#pragma once
// How rlctl reaches the admin API: over HTTP to a running ratelimitd, or in-process on a data
// directory no server holds. Commands see one interface and cannot tell which they got.

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "admin/admin_api.hpp"
#include "common/defaults.hpp"
#include "common/url.hpp"
#include "storage/data_dir.hpp"

namespace rl::cli {

// A failure worth one line on stderr and exit status 1.
class cli_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct client_response {
    int status = 0;
    nlohmann::json body;  // null when the reply had no JSON body
};

class admin_client {
public:
    virtual ~admin_client() = default;
    // One admin API request; `body` null sends none. Error statuses are returned, not thrown;
    // throws cli_error only when the API cannot be reached at all.
    virtual client_response call(const std::string& method, const std::string& path_and_query,
                                 const nlohmann::json& body) = 0;
};

// Talks to a running ratelimitd; one connection is kept alive across calls. A 401's detail
// gets a hint on where the token came from (never the token itself).
class http_admin_client : public admin_client {
public:
    http_admin_client(std::string base_url, std::optional<std::string> token,
                      std::string token_source);
    ~http_admin_client() override;
    http_admin_client(const http_admin_client&) = delete;
    http_admin_client& operator=(const http_admin_client&) = delete;

    client_response call(const std::string& method, const std::string& path_and_query,
                         const nlohmann::json& body) override;

private:
    std::string base_url_;
    std::optional<std::string> token_;
    std::string token_source_;
    void* curl_;  // CURL*, kept out of this header
};

// Runs the admin API in this process on a data directory; the directory stays locked (so no
// server can start on it) for as long as this object lives.
class local_admin_client : public admin_client {
public:
    // Throws storage_error (code locked when a server holds the directory).
    local_admin_client(const std::string& data_dir, std::uint32_t default_limit);

    client_response call(const std::string& method, const std::string& path_and_query,
                         const nlohmann::json& body) override;

private:
    std::unique_ptr<storage::data_dir> store_;
    admin::catalog catalog_;
    admin::admin_api api_;
};

using common::url_encode;

// Splits "/v1/x%20y?a=1&b=2" into a decoded path and query; throws cli_error on a bad escape.
admin::api_request parse_target(const std::string& method, std::string_view path_and_query);

struct connection_options {
    std::optional<std::string> server;    // --server or RL_ADMIN_URL
    std::optional<std::string> token;     // --token or RL_ADMIN_TOKEN
    std::optional<std::string> data_dir;  // --data-dir or RL_DATA_DIR
};

// Where a server started with the default --admin-listen answers.
std::string default_admin_url();

// Where a token file is looked for without --data-dir: the server's default data directory and
// the container image's.
inline constexpr std::string_view usual_data_dirs[] = {common::defaults::data_dir,
                                                       "/var/lib/ratelimitd"};

// With a data directory: works on it in-process, unless a server holds it, then over HTTP to
// that server (URL and token from the files it wrote there). Without one: over HTTP.
std::unique_ptr<admin_client> connect(const connection_options& options);

}  // namespace rl::cli
