#include "cli/admin_client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/data_dir_files.hpp"
#include "common/defaults.hpp"
#include "common/text.hpp"

namespace rl::cli {

namespace {

using nlohmann::json;

std::size_t append_to_string(char* data, std::size_t size, std::size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

// The first line of a small file the server wrote (admin.token, admin.url), if readable.
std::optional<std::string> read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    line = std::string(common::trim(line));
    if (line.empty()) return std::nullopt;
    return line;
}

// Users without their own limit show the server's default; rlctl has no flag for it.
std::uint32_t default_limit_from_env() {
    const char* text = std::getenv("RL_DEFAULT_LIMIT");
    if (!text || !*text) return common::defaults::default_limit;
    const auto limit = admin::parse_limit(text);
    if (!limit)
        throw cli_error(fmt::format("RL_DEFAULT_LIMIT: '{}' is not a whole number from 1 to {}",
                                    text, admin::max_limit));
    return *limit;
}

// libcurl must be initialised once per process before any handle exists.
void init_curl_once() {
    static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK)
        throw cli_error(fmt::format("cannot initialise libcurl: {}", curl_easy_strerror(code)));
}

}  // namespace

std::string default_admin_url() {
    return fmt::format("http://{}:{}", common::defaults::admin_listen_host,
                       common::defaults::admin_listen_port);
}

http_admin_client::http_admin_client(std::string base_url, std::optional<std::string> token,
                                     std::string token_source)
    : base_url_(std::move(base_url)),
      token_(std::move(token)),
      token_source_(std::move(token_source)),
      curl_(nullptr) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    init_curl_once();
    curl_ = curl_easy_init();
    if (!curl_) throw cli_error("cannot initialise libcurl");
}

http_admin_client::~http_admin_client() {
    curl_easy_cleanup(static_cast<CURL*>(curl_));
}

client_response http_admin_client::call(const std::string& method,
                                        const std::string& path_and_query, const json& body) {
    CURL* curl = static_cast<CURL*>(curl_);
    // Reset keeps the live connection, so an import's many chunks share one.
    curl_easy_reset(curl);

    const std::string url = base_url_ + path_and_query;
    const std::string payload = body.is_null() ? std::string() : body.dump();
    const std::string authorization = token_ ? "Authorization: Bearer " + *token_ : std::string();
    std::string received;
    char error_text[CURL_ERROR_SIZE] = {};

    curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
    if (!body.is_null()) headers = curl_slist_append(headers, "Content-Type: application/json");
    if (token_) headers = curl_slist_append(headers, authorization.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                            curl_slist_free_all);

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (method == "POST" || method == "PATCH" || method == "PUT") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(payload.size()));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    // Generous: a large import chunk is one synced write, a usage report can scan a lot.
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);

    const CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        const std::string reason = code == CURLE_COULDNT_CONNECT && os_errno != 0
                                       ? std::strerror(static_cast<int>(os_errno))
                                   : error_text[0] != '\0' ? error_text
                                                           : curl_easy_strerror(code);
        throw cli_error(fmt::format("cannot reach ratelimitd at {}: {}", base_url_, reason));
    }

    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    client_response response{static_cast<int>(status), json::parse(received, nullptr, false)};
    if (response.body.is_discarded()) response.body = nullptr;
    if (status == 401) {
        const std::string detail = response.body.is_object()
                                       ? response.body.value("detail", "unauthorized")
                                       : "unauthorized";
        response.body =
            json{{"title", "Unauthorized"},
                 {"status", 401},
                 {"detail",
                  token_ ? fmt::format("{} (the token from {} was refused)", detail, token_source_)
                         : fmt::format("{} (no admin token found: {})", detail, token_source_)}};
    }
    return response;
}

local_admin_client::local_admin_client(const std::string& data_dir, std::uint32_t default_limit)
    : store_(storage::data_dir::open(data_dir)), catalog_(*store_, default_limit), api_(catalog_) {}

client_response local_admin_client::call(const std::string& method,
                                         const std::string& path_and_query, const json& body) {
    admin::api_request request = parse_target(method, path_and_query);
    if (!body.is_null()) request.body = body.dump();
    admin::api_response response = api_.handle(request);
    return {response.status, std::move(response.body)};
}

admin::api_request parse_target(const std::string& method, std::string_view path_and_query) {
    const std::size_t mark = path_and_query.find('?');
    auto request = admin::parse_api_request(
        method, path_and_query.substr(0, mark),
        mark == std::string_view::npos ? std::string_view{} : path_and_query.substr(mark + 1), {});
    if (!request)
        throw cli_error(fmt::format("malformed percent-encoding in '{}'", path_and_query));
    return std::move(*request);
}

std::unique_ptr<admin_client> connect(const connection_options& options) {
    std::optional<std::string> url = options.server;
    std::vector<std::string> token_files;
    if (options.data_dir) {
        const std::string& dir = *options.data_dir;
        try {
            return std::make_unique<local_admin_client>(dir, default_limit_from_env());
        } catch (const storage::storage_error& e) {
            if (e.code() != storage::storage_errc::locked) throw;
        }
        // A running server holds the directory: talk to it instead, as it told us to.
        if (!url) url = read_first_line(common::data_dir_file(dir, common::admin_url_file));
        token_files = {common::data_dir_file(dir, common::admin_token_file)};
    } else {
        for (std::string_view dir : usual_data_dirs)
            token_files.push_back(common::data_dir_file(dir, common::admin_token_file));
    }

    if (options.token)
        return std::make_unique<http_admin_client>(url.value_or(default_admin_url()), options.token,
                                                   "--token or RL_ADMIN_TOKEN");
    for (const auto& file : token_files)
        if (auto token = read_first_line(file))
            return std::make_unique<http_admin_client>(url.value_or(default_admin_url()), token,
                                                       file);
    std::string tried = "pass --token or set RL_ADMIN_TOKEN; looked in";
    for (const auto& file : token_files) tried += " " + file;
    return std::make_unique<http_admin_client>(url.value_or(default_admin_url()), std::nullopt,
                                               tried);
}

}  // namespace rl::cli
