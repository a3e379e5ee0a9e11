#include "service/admin_server.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

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

bool admin_server::authorized(std::optional<std::string_view> authorization) const noexcept {
    constexpr std::string_view scheme = "Bearer ";
    if (!authorization || authorization->substr(0, scheme.size()) != scheme) return false;
    // Fixed-size digests compared in constant time: how long the guess was, or how much of it
    // was right, does not show in the time the answer takes.
    const common::key_hash given = common::sha256(authorization->substr(scheme.size()));
    return CRYPTO_memcmp(given.data(), token_digest_.data(), given.size()) == 0;
}

http_reply admin_server::handle(std::string_view method, std::string_view path,
                                std::string_view query,
                                std::optional<std::string_view> authorization,
                                std::string body) const {
    if (path == "/healthz") return health_reply();
    if (!authorized(authorization)) {
        auto reply = problem_reply(401, "unauthorized", "Unauthorized",
                                   "send the admin token as Authorization: Bearer <token>");
        reply.headers.emplace_back("WWW-Authenticate", "Bearer");
        return reply;
    }
    if (path == "/metrics" && method == "GET")
        return http_reply{200, "text/plain; version=0.0.4; charset=utf-8", {}, render_metrics_()};

    auto request = admin::parse_api_request(std::string(method), path, query, std::move(body));
    if (!request)
        return problem_reply(400, "invalid-request", "Invalid request",
                             "malformed percent-encoding in the request target");
    return json_reply(api_.handle(*request));
}

std::string load_or_create_admin_token(const std::string& data_dir) {
    const std::string path = common::data_dir_file(data_dir, common::admin_token_file);
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
