#include "tests/support/etcd_member.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.hpp"

namespace rl::testing {

etcd_member::etcd_member(const std::string& dir)
    : data_dir_(dir + "/etcd"), log_path_(dir + "/etcd.log") {
    // A port taken between free_port() and etcd's bind makes etcd exit: try fresh ones.
    for (int attempt = 0;; ++attempt) {
        client_port_ = free_port();
        peer_port_ = free_port();
        try {
            launch();
            return;
        } catch (const std::exception&) {
            process_.reset();
            if (attempt == 4) throw;
        }
    }
}

etcd_member::~etcd_member() = default;

std::string etcd_member::client_url() const {
    return "http://127.0.0.1:" + std::to_string(client_port_);
}

void etcd_member::stop() {
    process_.reset();
}

void etcd_member::start() {
    if (!process_) launch();
}

std::string etcd_member::log() const {
    return process_ ? process_->log() : std::string();
}

void etcd_member::launch() {
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
    process_ = std::make_unique<child_process>(
        std::vector<std::string>{
            find_program("etcd"), "--data-dir", data_dir_, "--listen-client-urls", client_url(),
            "--advertise-client-urls", client_url(), "--listen-peer-urls", peer_url,
            "--initial-advertise-peer-urls", peer_url, "--initial-cluster", "default=" + peer_url},
        log_path_);
    process_->wait_until_answering(client_url() + "/health");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        if (http_request("GET", client_url() + "/health").body.find("\"true\"") !=
            std::string::npos)
            return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("etcd did not become healthy within 20 s; its log:\n" + log());
}

}  // namespace rl::testing
