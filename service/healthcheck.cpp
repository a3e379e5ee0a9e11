#include "service/healthcheck.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "service/config.hpp"

namespace rl::service {

namespace {

struct target {
    std::string host;
    std::string port;
    std::string path;
};

// http://host[:port][/path], host possibly a [v6] literal; https is not spoken.
std::optional<target> parse_url(const std::string& url) {
    const std::string scheme = "http://";
    if (url.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
    const std::string rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    target t{"", "80", slash == std::string::npos ? "/" : rest.substr(slash)};
    std::string::size_type host_end = hostport.size();
    if (!hostport.empty() && hostport.front() == '[') {
        const auto close = hostport.find(']');
        if (close == std::string::npos) return std::nullopt;
        t.host = hostport.substr(1, close - 1);
        host_end = close + 1;
    } else {
        host_end = hostport.find(':');
        if (host_end == std::string::npos) host_end = hostport.size();
        t.host = hostport.substr(0, host_end);
    }
    if (host_end < hostport.size()) {
        if (hostport[host_end] != ':') return std::nullopt;
        t.port = hostport.substr(host_end + 1);
    }
    if (t.host.empty() || t.port.empty()) return std::nullopt;
    return t;
}

// Where a client reaches a server that listens on `listen`: a wildcard address is reached on
// the loopback interface of the same family.
target local_target(const endpoint& listen, const std::string& path) {
    std::string host = listen.host;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    return {host, std::to_string(listen.port), path};
}

class socket_fd {
public:
    explicit socket_fd(int fd) : fd_(fd) {}
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    ~socket_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

// host:port as a Host header and a URL spell it, an IPv6 literal in brackets.
std::string authority(const target& t) {
    return t.host.find(':') == std::string::npos ? fmt::format("{}:{}", t.host, t.port)
                                                 : fmt::format("[{}]:{}", t.host, t.port);
}

using deadline = std::chrono::steady_clock::time_point;

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, deadline until) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

// The status code of the answer to GET t.path, or an error text.
std::string fetch_status(const target& t, deadline until, int& status) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &found); rc != 0)
        return fmt::format("cannot resolve {}: {}", t.host, ::gai_strerror(rc));
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    std::string error = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        socket_fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol));
        if (fd.get() < 0) {
            error = std::strerror(errno);
            continue;
        }
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            error = fmt::format("connect: {}", std::strerror(errno));
            continue;
        }
        if (!wait_for(fd.get(), POLLOUT, until)) {
            error = "connect: timed out";
            continue;
        }
        int so_error = 0;
        socklen_t len = sizeof so_error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
        if (so_error != 0) {
            error = fmt::format("connect: {}", std::strerror(so_error));
            continue;
        }
        const std::string request = fmt::format(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ratelimitd-healthcheck\r\n"
            "Connection: close\r\n\r\n",
            t.path, authority(t));
        std::size_t sent = 0;
        while (sent < request.size()) {
            if (!wait_for(fd.get(), POLLOUT, until)) return "send: timed out";
            const ssize_t n =
                ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return fmt::format("send: {}", std::strerror(errno));
            if (n > 0) sent += static_cast<std::size_t>(n);
        }
        // Only the status line matters: "HTTP/1.1 200 OK".
        std::string answer;
        while (answer.find("\r\n") == std::string::npos && answer.size() < 1024) {
            if (!wait_for(fd.get(), POLLIN, until)) return "no answer: timed out";
            char buffer[512];
            const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
            if (n == 0) break;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return fmt::format("recv: {}", std::strerror(errno));
            if (n > 0) answer.append(buffer, static_cast<std::size_t>(n));
        }
        if (answer.compare(0, 5, "HTTP/") != 0 || answer.find(' ') == std::string::npos)
            return "not an HTTP answer";
        status = std::atoi(answer.c_str() + answer.find(' ') + 1);
        return "";
    }
    return error;
}

}  // namespace

int run_healthcheck(int argc, const char* const* argv) {
    CLI::App app{"Exit 0 when ratelimitd's /healthz answers 2xx, 1 otherwise (for HEALTHCHECK)",
                 "ratelimitd healthcheck"};
    std::string listen = fmt::format("{}:{}", config{}.listen.host, config{}.listen.port);
    std::string path = "/healthz";
    std::string url;
    double timeout_seconds = 3;
    app.add_option("--listen", listen, "ratelimitd's --listen; a wildcard host means loopback")
        ->envname("RL_LISTEN")
        ->capture_default_str();
    app.add_option("--path", path, "The path to GET on --listen (/readyz: ready to serve)")
        ->capture_default_str();
    app.add_option("--timeout", timeout_seconds, "Seconds to wait for the answer")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    app.add_option("url", url, "Check this http:// URL instead of /healthz on --listen");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    std::optional<target> t;
    if (!url.empty()) {
        t = parse_url(url);
        if (!t) {
            fmt::print(stderr, "ratelimitd healthcheck: '{}' is not an http:// URL\n", url);
            return 2;
        }
    } else {
        try {
            if (path.empty() || path.front() != '/')
                throw config_error(fmt::format("--path: '{}' does not start with /", path));
            t = local_target(parse_endpoint(listen, "--listen"), path);
        } catch (const config_error& e) {
            fmt::print(stderr, "ratelimitd healthcheck: {}\n", e.what());
            return 2;
        }
    }
    const std::string shown = fmt::format("http://{}{}", authority(*t), t->path);
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<long>(timeout_seconds * 1000));
    int status = 0;
    if (const std::string error = fetch_status(*t, until, status); !error.empty()) {
        fmt::print(stderr, "ratelimitd healthcheck: {}: {}\n", shown, error);
        return 1;
    }
    if (status < 200 || status > 299) {
        fmt::print(stderr, "ratelimitd healthcheck: {}: status {}\n", shown, status);
        return 1;
    }
    fmt::print("ratelimitd healthcheck: {}: status {}\n", shown, status);
    return 0;
}

}  // namespace rl::service
