// A really full disk under the real server: a small tmpfs as the data directory, filled up while
// requests flow. Limits keep being enforced from memory with 200/429 (the default
// --on-storage-error=open), /readyz and admin writes say 503, and once space is freed the held
// counts are written: usage then matches the 200s the client saw. Mounting needs root with
// CAP_SYS_ADMIN; where that is refused (EPERM: containers, non-root) the executable exits 77 and
// CTest reports it skipped.

#include <catch2/catch.hpp>

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fixture.hpp"
#include "tests/support/skip_main.hpp"

using nlohmann::json;
using rl::testing::http_request;
using rl::testing::server_process;

namespace {

using clock = std::chrono::steady_clock;

class tmpfs_mount {
public:
    tmpfs_mount(const std::string& where, const std::string& size) : where_(where) {
        std::filesystem::create_directories(where);
        const std::string options = "size=" + size;
        if (::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) == 0)
            mounted_ = true;
        else
            error_ = errno;
    }
    ~tmpfs_mount() {
        if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }
    int error() const { return error_; }

private:
    std::string where_;
    bool mounted_ = false;
    int error_ = 0;
};

// Writes a new file until the disk refuses: whatever RocksDB freed is taken again.
void fill(const std::string& dir) {
    static int count = 0;
    std::ofstream out(dir + "/filler" + std::to_string(++count), std::ios::binary);
    const std::string chunk(4096, 'x');
    while (out.write(chunk.data(), chunk.size()) && out.flush()) {
    }
}

void remove_fillers(const std::string& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().filename().string().rfind("filler", 0) == 0)
            std::filesystem::remove(entry.path());
}

int readyz(const server_process& server) {
    return http_request("GET", server.public_url() + "/readyz").status;
}

std::string metric(const server_process& server, const std::string& name) {
    const auto r = http_request("GET", server.admin_url() + "/metrics",
                                {"Authorization: Bearer " + server.admin_token()});
    const auto at = r.body.find("\n" + name + " ");
    if (at == std::string::npos) return {};
    const auto start = at + name.size() + 2;
    return r.body.substr(start, r.body.find('\n', start) - start);
}

json admin(const server_process& server, const std::string& method, const std::string& path,
           const json& body, int& status) {
    const auto r = http_request(
        method, server.admin_url() + path,
        {"Authorization: Bearer " + server.admin_token(), "Content-Type: application/json"},
        body.is_null() ? std::string() : body.dump());
    status = r.status;
    return json::parse(r.body, nullptr, false);
}

}  // namespace

// Only a lack of privilege is a reason to skip; any other mount failure fails the test.
std::string rl::testing::skip_reason() {
    temp_dir probe;
    tmpfs_mount disk(probe / "mnt", "1m");
    if (disk.mounted() || disk.error() != EPERM) return {};
    return std::string("cannot mount a tmpfs here (") + std::strerror(EPERM) +
           "): the full-disk test needs root with CAP_SYS_ADMIN";
}

TEST_CASE("a full disk: limits hold from memory, /readyz is 503, and nothing is lost after") {
    rl::testing::temp_dir base;
    tmpfs_mount disk(base / "mnt", "16m");
    INFO("mount: " << std::strerror(disk.error()));
    REQUIRE(disk.mounted());
    // The mount itself is the data directory, so the server's log (next to it) is not on the
    // full disk. RocksDB leaves the filler files there alone.
    const std::string mnt = base / "mnt";
    const std::string data = mnt;
    auto server =
        std::make_unique<server_process>(data, std::vector<std::string>{"--threads", "2"});
    int status = 0;
    admin(*server, "POST", "/v1/users", {{"name", "dora"}, {"limit", 20}}, status);
    REQUIRE(status == 201);
    const std::string key = admin(*server, "POST", "/v1/keys", {{"user", "dora"}}, status)["key"];
    REQUIRE(status == 201);
    // Restarted on a nearly full disk, the new WAL cannot reserve space ahead, so the first
    // appends past its first pages fail.
    fill(mnt);
    REQUIRE(server->stop() == 0);
    remove_fillers(mnt);
    server = std::make_unique<server_process>(data, std::vector<std::string>{"--threads", "2"});
    fill(mnt);

    rl::testing::http_session client;
    const std::string url = server->public_url() + "/limit";
    const std::string header = "X-API-KEY: " + key;
    std::int64_t admitted = 0, limited = 0, other = 0;
    const auto send = [&](int n) {
        for (int i = 0; i < n; ++i) {
            const int s = client.get_status(url, header);
            admitted += s == 200;
            limited += s == 429;
            other += s != 200 && s != 429;
        }
    };

    auto deadline = clock::now() + std::chrono::seconds(60);
    while (readyz(*server) == 200 && clock::now() < deadline) {
        send(50);
        fill(mnt);
    }
    REQUIRE(readyz(*server) == 503);
    REQUIRE(metric(*server, "ratelimitd_storage_healthy") == "0");

    // While the disk is full: 200 and 429 only, admin writes refused with a problem.
    const std::int64_t limited_before = limited;
    send(100);
    fill(mnt);
    REQUIRE(limited > limited_before);  // 100 requests at a limit of 20: the limit still holds
    // A small synced write can still find room: the background reopen frees files (a replayed
    // WAL, a failed open's leftovers) and the new WAL's first pages. Such a write is a real,
    // durable success; the disk is filled again until an admin write meets the full disk.
    std::vector<std::string> created_while_filling;
    json refused;
    deadline = clock::now() + std::chrono::seconds(60);
    for (int attempt = 0;; ++attempt) {
        const std::string name = "eve" + std::to_string(attempt);
        refused = admin(*server, "POST", "/v1/users", {{"name", name}}, status);
        if (status != 201 || clock::now() > deadline) break;
        created_while_filling.push_back(name);
        fill(mnt);
    }
    INFO(created_while_filling.size() << " admin writes found room before one was refused");
    REQUIRE(status == 503);
    REQUIRE(refused.value("type", "") == "urn:ratelimitd:problem:storage-unavailable");
    REQUIRE(std::stoll(metric(*server, "ratelimitd_storage_errors_total")) >= 1);

    remove_fillers(mnt);
    deadline = clock::now() + std::chrono::seconds(60);
    while (readyz(*server) != 200 && clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(readyz(*server) == 200);
    send(10);
    REQUIRE(other == 0);
    for (const auto& name : created_while_filling) {
        admin(*server, "GET", "/v1/users/" + name, nullptr, status);
        REQUIRE(status == 200);
    }

    const std::string log = server->log();
    INFO(log);
    REQUIRE(log.find("storage failed: IO error: No space left on device") != std::string::npos);
    REQUIRE(log.find("storage recovered after") != std::string::npos);

    // Every 200 is counted; a batch whose write failed may be counted as well (one request per
    // batch with one client), never fewer.
    const auto usage = admin(*server, "GET", "/v1/usage?user=dora&since=1h", nullptr, status);
    REQUIRE(status == 200);
    const std::int64_t counted = usage.at("total").at("allowed");
    const std::int64_t failed_writes =
        std::stoll(metric(*server, "ratelimitd_usage_write_errors_total"));
    INFO(admitted << " admitted, " << counted << " counted, " << failed_writes << " failed writes");
    REQUIRE(counted >= admitted);
    REQUIRE(counted <= admitted + failed_writes);

    REQUIRE(server->stop() == 0);
    server.reset();
}
