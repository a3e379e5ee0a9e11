#include "service/admin_server.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/data_dir_files.hpp"
#include "common/text.hpp"

namespace rl::service {

namespace {

http_reply json_reply(const admin::api_response& response) {
    return http_reply{response.status,
                      response.status >= 400 ? "application/problem+json" : "application/json",
                      {},
                      response.body.dump()};
}

}  // namespace

admin_server::token_kind admin_server::authorize(
    std::optional<std::string_view> authorization) const noexcept {
    constexpr std::string_view scheme = "Bearer ";
    if (!authorization || authorization->substr(0, scheme.size()) != scheme)
        return token_kind::none;
    // Fixed-size digests compared in constant time, both of them every time: how long the guess
    // was, how much of it was right, or which token it was close to, does not show in the time
    // the answer takes.
    const common::key_hash given = common::sha256(authorization->substr(scheme.size()));
    const bool full = CRYPTO_memcmp(given.data(), token_digest_.data(), given.size()) == 0;
    const bool read_only = CRYPTO_memcmp(given.data(), readonly_digest_.data(), given.size()) == 0;
    return full ? token_kind::full : read_only ? token_kind::read_only : token_kind::none;
}

void admin_server::audit(token_kind token, std::string_view method, std::string_view path,
                         std::string_view remote, int status, nlohmann::json before,
                         nlohmann::json after) const {
    audit_entry entry;
    entry.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    entry.token = token == token_kind::full ? "full" : "read-only";
    entry.remote = remote;
    entry.method = method;
    entry.path = path;
    entry.status = status;
    entry.before = std::move(before);
    entry.after = std::move(after);
    audit_->write(entry);
}

http_reply admin_server::handle(std::string_view method, std::string_view path,
                                std::string_view query,
                                std::optional<std::string_view> authorization, std::string body,
                                std::string_view remote) const {
    if (path == "/healthz") return health_reply();
    const token_kind token = authorize(authorization);
    if (token == token_kind::none) {
        auto reply = problem_reply(401, "unauthorized", "Unauthorized",
                                   "send the admin token as Authorization: Bearer <token>");
        reply.headers.add("WWW-Authenticate", "Bearer");
        return reply;
    }
    const bool change = method != "GET" && method != "HEAD";
    if (token == token_kind::read_only && change) {
        if (audit_) audit(token, method, path, remote, 403, nullptr, nullptr);
        return problem_reply(403, "read-only-token", "Read-only token",
                             "this token may only read (GET routes and /metrics); use the full "
                             "admin token to change anything");
    }
    if (path == "/metrics" && method == "GET")
        return http_reply{200, "text/plain; version=0.0.4; charset=utf-8", {}, render_metrics_()};

    auto request = admin::parse_api_request(std::string(method), path, query, std::move(body));
    if (!request)
        return problem_reply(400, "invalid-request", "Invalid request",
                             "malformed percent-encoding in the request target");
    if (extension_)
        if (auto answer = extension_(*request)) {
            if (audit_ && change)
                audit(token, method, path, remote, answer->status, nullptr, answer->body);
            return json_reply(*answer);
        }
    if (!audit_ || !change) return json_reply(api_.handle(*request));

    nlohmann::json before = api_.record_of(*request);
    const admin::api_response response = api_.handle(*request);
    nlohmann::json after = nullptr;
    if (response.status < 400) {
        after = response.body;
        after.erase("key");  // a created key's plain text is shown once, to its caller only
    }
    if (method == "DELETE" && response.status < 400) after = nullptr;
    audit(token, method, path, remote, response.status, std::move(before), std::move(after));
    return json_reply(response);
}

std::string load_or_create_token(const std::string& data_dir, std::string_view file) {
    const std::string path = common::data_dir_file(data_dir, file);
    if (std::ifstream in{path}) {
        std::stringstream text;
        text << in.rdbuf();
        std::string token(common::trim(text.str()));
        ::chmod(path.c_str(), 0600);  // a copy restored with looser permissions is tightened
        if (token.size() >= 16) return token;
        throw std::runtime_error(
            path + " holds no usable token (16+ characters); remove it to get a new one");
    }
    std::uint8_t bytes[32];
    for (std::size_t i = 0; i < sizeof bytes; i += 8) {
        const std::uint64_t r = common::random_u64();
        for (std::size_t b = 0; b < 8; ++b) bytes[i + b] = static_cast<std::uint8_t>(r >> (8 * b));
    }
    const std::string token = common::to_hex(bytes, sizeof bytes);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    const std::string line = token + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + path);
    return token;
}

}  // namespace rl::service
