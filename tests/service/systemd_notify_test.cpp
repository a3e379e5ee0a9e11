#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "service/systemd_notify.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

// What systemd does for Type=notify: a datagram socket named by NOTIFY_SOCKET.
class notify_socket {
public:
    notify_socket() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const std::string path = dir_ / "notify";
        REQUIRE(path.size() < sizeof(addr.sun_path));
        std::strcpy(addr.sun_path, path.c_str());
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        timeval timeout{2, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
    ~notify_socket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    std::string receive() {
        char buffer[4096];
        const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
        REQUIRE(n >= 0);
        return std::string(buffer, static_cast<std::size_t>(n));
    }

private:
    rl::testing::temp_dir dir_;
    int fd_;
};

}  // namespace

TEST_CASE("readiness and stopping reach the notification socket") {
    notify_socket systemd;
    rl::service::notify_ready("serving 2 users,\n3 keys");
    CHECK(systemd.receive() == "READY=1\nSTATUS=serving 2 users, 3 keys");
    rl::service::notify_stopping();
    CHECK(systemd.receive() == "STOPPING=1\nSTATUS=stopping");
}

TEST_CASE("without NOTIFY_SOCKET the notifications do nothing") {
    ::unsetenv("NOTIFY_SOCKET");
    rl::service::notify_ready("serving");
    rl::service::notify_stopping();
    SUCCEED("no socket, no error, no crash");
}
