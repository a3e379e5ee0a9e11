#pragma once
// One etcd member (Debian's etcd-server) for tests: free loopback ports, its data under a
// directory the test owns, stopped when the object goes.

#include <memory>
#include <string>

#include "tests/support/process.hpp"

namespace rl::testing {

class etcd_member {
public:
    // Starts etcd with its data in `dir`/etcd and its log in `dir`/etcd.log, and waits until
    // /health says true; throws with the log when it does not within 20 s.
    explicit etcd_member(const std::string& dir);
    ~etcd_member();
    etcd_member(const etcd_member&) = delete;
    etcd_member& operator=(const etcd_member&) = delete;

    std::string client_url() const;
    int client_port() const noexcept { return client_port_; }

    void stop();   // SIGTERM, waits for the exit
    void start();  // again, on the same ports and data
    std::string log() const;

private:
    void launch();

    std::string data_dir_;
    std::string log_path_;
    int client_port_ = 0;
    int peer_port_ = 0;
    std::unique_ptr<child_process> process_;
};

}  // namespace rl::testing
