#include "tests/support/raw_connection.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "common/text.hpp"

namespace rl::testing {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

}  // namespace

std::vector<raw_response> parse_responses(std::string_view bytes, std::size_t* consumed) {
    std::vector<raw_response> out;
    std::size_t at = 0;
    while (true) {
        const auto head_end = bytes.find("\r\n\r\n", at);
        if (head_end == std::string_view::npos || bytes.substr(at, 5) != "HTTP/") break;
        raw_response r;
        const auto status_end = bytes.find("\r\n", at);
        const auto space = bytes.find(' ', at);
        if (space < status_end)
            r.status = std::atoi(std::string(bytes.substr(space + 1, 3)).c_str());
        for (auto line = status_end + 2; line < head_end;) {
            const auto eol = bytes.find("\r\n", line);
            const auto field = bytes.substr(line, eol - line);
            const auto colon = field.find(':');
            if (colon != std::string_view::npos)
                r.headers[lower(std::string(field.substr(0, colon)))] =
                    std::string(common::trim(field.substr(colon + 1), " \t"));
            line = eol + 2;
        }
        const auto length_field = r.headers.find("content-length");
        const std::size_t length =
            length_field == r.headers.end() ? 0 : std::stoul(length_field->second);
        if (bytes.size() < head_end + 4 + length) break;
        r.body = std::string(bytes.substr(head_end + 4, length));
        out.push_back(std::move(r));
        at = head_end + 4 + length;
    }
    if (consumed) *consumed = at;
    return out;
}

raw_connection::raw_connection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (fd_ >= 0) ::close(fd_);
        throw std::runtime_error("cannot connect to port " + std::to_string(port));
    }
}

raw_connection::~raw_connection() {
    ::close(fd_);
}

bool raw_connection::send_all(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            closed_ = true;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool raw_connection::receive(std::chrono::milliseconds wait, std::string& into) {
    if (closed_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
        closed_ = true;
        return false;
    }
    into.append(buf, static_cast<std::size_t>(n));
    return true;
}

std::string raw_connection::read_until_quiet(std::chrono::milliseconds quiet) {
    std::string received;
    while (receive(quiet, received)) {
    }
    return received;
}

std::vector<raw_response> raw_connection::read_responses(std::size_t count,
                                                         std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string received;
    std::vector<raw_response> responses;
    while ((responses = parse_responses(received)).size() < count && !closed_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !receive(left, received)) break;
    }
    return responses;
}

bool raw_connection::closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string discarded;
    while (!closed_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        receive(left, discarded);
        discarded.clear();
    }
    return closed_;
}

}  // namespace rl::testing
