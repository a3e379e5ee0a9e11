// /limit while storage fails (a faulty disk under the store): limits hold from memory, counts
// are held (open) or admits refused without using quota (closed), errors are counted, the log
// stays short, and everything held is written once storage recovers.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin/admin_api.hpp"
#include "service/admin_server.hpp"
#include "service/public_routes.hpp"
#include "tests/service/handler_fixture.hpp"

using namespace rl;
using service::limit_outcome;
using service::on_storage_error;
using service::usage_kind;
using service::usage_write;

namespace {

struct faulty_harness : testing::handler_fixture {
    explicit faulty_harness(on_storage_error mode, std::size_t max_held = 1000)
        : faulty_harness(std::make_shared<storage::faulty_disk>(), mode, max_held) {}

    std::shared_ptr<storage::faulty_disk> disk;
    std::vector<std::string> log;

    // `n` requests at t0 + at, by outcome.
    std::map<limit_outcome, int> burst(const std::string& key, int n,
                                       std::chrono::milliseconds at = {}) {
        std::map<limit_outcome, int> outcomes;
        for (int i = 0; i < n; ++i) ++outcomes[handler.check(key, t0 + at, wall).outcome];
        return outcomes;
    }
    storage::usage_count stored() const {
        storage::usage_count total;
        store->usage().scan({storage::usage_resolution::second, 0, INT64_MAX},
                            [&](const storage::usage_bucket& b) { total += b.count; });
        return total;
    }

private:
    faulty_harness(std::shared_ptr<storage::faulty_disk> faulty, on_storage_error mode,
                   std::size_t max_held)
        : handler_fixture(
              {faulty}, mode, [this](const std::string& line) { log.push_back(line); }, max_held),
          disk(std::move(faulty)) {}
};

}  // namespace

TEST_CASE(
    "open: limits hold from memory while storage fails, and the held counts are written "
    "once it recovers") {
    const auto fault = GENERATE(storage::disk_fault::io_error, storage::disk_fault::no_space);
    faulty_harness h(on_storage_error::open);
    const auto key = h.key_for("alice", 3);
    REQUIRE(h.burst(key, 1)[limit_outcome::admitted] == 1);

    h.disk->fail_writes(fault);
    auto during = h.burst(key, 5, std::chrono::milliseconds(10));
    CHECK(during[limit_outcome::admitted] == 2);  // the limit of 3 still holds
    CHECK(during[limit_outcome::limited] == 3);
    CHECK_FALSE(h.usage.healthy());
    CHECK(h.usage.held_buckets() == 1);
    CHECK(h.usage.storage_errors() >= 1);
    CHECK(h.counters.decisions(limit_outcome::storage_unavailable) == 0);
    // However many writes fail, one log line says so.
    REQUIRE(h.log.size() == 1);
    CHECK(h.log[0].find("storage failed") != std::string::npos);
    CHECK(h.log[0].find("--on-storage-error=open") != std::string::npos);

    CHECK_FALSE(h.usage.recover());  // still failing
    CHECK_FALSE(h.usage.healthy());

    h.disk->heal();
    REQUIRE(h.usage.recover());
    CHECK(h.usage.healthy());
    CHECK(h.usage.held_buckets() == 0);
    REQUIRE(h.log.size() == 2);
    CHECK(h.log[1].find("storage recovered") != std::string::npos);
    // Every answered request is counted: RocksDB may also keep the batch whose write failed.
    const auto counted = h.stored();
    CHECK(counted.admitted >= 3);
    CHECK(counted.limited >= 3);
    CHECK(counted.admitted + counted.limited <= 6 + 1);

    // Writes go straight to storage again.
    REQUIRE(h.burst(key, 1, std::chrono::milliseconds(2000))[limit_outcome::admitted] == 1);
    CHECK(h.usage.held_buckets() == 0);
    CHECK(h.stored().admitted == counted.admitted + 1);
}

TEST_CASE("closed: admits that cannot be counted get 503 and use no quota") {
    faulty_harness h(on_storage_error::closed);
    const auto key = h.key_for("bob", 2);
    h.disk->fail_writes(storage::disk_fault::io_error);
    auto during = h.burst(key, 5);
    CHECK(during[limit_outcome::storage_unavailable] == 5);  // refunded, so never 429
    CHECK(h.usage.held_buckets() == 0);
    CHECK(h.counters.decisions(limit_outcome::storage_unavailable) == 5);
    REQUIRE(h.log.size() == 1);
    CHECK(h.log[0].find("--on-storage-error=closed") != std::string::npos);

    h.disk->heal();
    REQUIRE(h.usage.recover());
    // The quota is whole: the 503s took none of it.
    auto after = h.burst(key, 3, std::chrono::milliseconds(1));
    CHECK(after[limit_outcome::admitted] == 2);
    CHECK(after[limit_outcome::limited] == 1);
}

TEST_CASE("open: once the held counts reach their bound, further admits get 503") {
    faulty_harness h(on_storage_error::open, 2);
    const auto a = h.key_for("a", 100);
    const auto b = h.key_for("b", 100);
    const auto c = h.key_for("c", 100);
    h.disk->fail_writes(storage::disk_fault::no_space);
    CHECK(h.burst(a, 3)[limit_outcome::admitted] == 3);
    CHECK(h.burst(b, 3)[limit_outcome::admitted] == 3);
    CHECK(h.usage.held_buckets() == 2);
    // A third bucket does not fit; the ones already held still take more counts.
    CHECK(h.burst(c, 3)[limit_outcome::storage_unavailable] == 3);
    CHECK(h.burst(a, 1)[limit_outcome::admitted] == 1);
    REQUIRE(h.log.size() == 2);
    CHECK(h.log[1].find("reached its bound of 2") != std::string::npos);

    h.disk->heal();
    REQUIRE(h.usage.recover());
    CHECK(h.stored().admitted >= 7);
    CHECK(h.burst(c, 1)[limit_outcome::admitted] == 1);
}

TEST_CASE("recovery on a healthy store is immediate and logs nothing") {
    faulty_harness h(on_storage_error::open);
    REQUIRE(h.usage.recover());
    REQUIRE(h.usage.record({{1, 5, usage_kind::admitted}}) == usage_write::written);
    REQUIRE(h.log.empty());
    REQUIRE(h.usage.storage_errors() == 0);
}

TEST_CASE(
    "admin writes while storage fails get a 503 problem, change nothing in memory and "
    "start recovery") {
    faulty_harness h(on_storage_error::open);
    const auto key = h.key_for("carol", 5);
    admin::admin_api api(h.catalog);
    const std::string token = "0123456789abcdef0123456789abcdef";
    service::admin_server server(api, token, "read-only-token-0123456789",
                                 [] { return std::string(); });
    const auto patch = [&] {
        return server.handle("PATCH", "/v1/users/carol", "", "Bearer " + token, R"({"limit":1})");
    };
    const auto readyz = [&] {
        const restinio::http_request_header_t request{restinio::http_method_get(), "/readyz"};
        return *service::answer_public(h.handler, request, h.t0, h.wall).reply;
    };
    REQUIRE(readyz().status == 200);
    h.disk->fail_writes(storage::disk_fault::io_error);
    const auto reply = patch();
    REQUIRE(reply.status == 503);
    CHECK(reply.content_type == "application/problem+json");
    CHECK(reply.body.find("urn:ratelimitd:problem:storage-unavailable") != std::string::npos);
    CHECK_FALSE(h.usage.healthy());  // so /readyz says 503 and recovery starts
    CHECK(readyz().status == 503);
    CHECK(readyz().body.find("storage-unavailable") != std::string::npos);
    CHECK(h.log.size() == 1);
    // The refused change is not in force: carol keeps her limit of 5.
    CHECK(h.burst(key, 6)[limit_outcome::admitted] == 5);

    h.disk->heal();
    REQUIRE(h.usage.recover());
    CHECK(readyz().status == 200);
    CHECK(patch().status == 200);
}

TEST_CASE("while storage keeps failing, a summary line follows at most once per interval") {
    testing::temp_dir dir;
    auto disk = std::make_shared<storage::faulty_disk>();
    auto store = storage::data_dir::open(dir / "data", {disk});
    std::vector<std::string> log;
    const auto record_failing = [&](service::usage_recorder& usage, int times) {
        for (int i = 0; i < times; ++i) {
            REQUIRE(usage.record({{1, 100, usage_kind::admitted}}) == usage_write::held);
            REQUIRE_FALSE(usage.recover());
        }
    };
    disk->fail_writes(storage::disk_fault::io_error);
    SECTION("an interval of zero: a summary after every further error") {
        service::usage_recorder usage(
            *store, on_storage_error::open, [&](const std::string& line) { log.push_back(line); },
            1000, std::chrono::seconds(0));
        record_failing(usage, 3);
        REQUIRE(log.size() == 4);  // the first error, then one summary per recover()
        CHECK(log[1].find("storage still failing after") != std::string::npos);
        CHECK(log[1].find("1 usage buckets held in memory") != std::string::npos);
    }
    SECTION("the default ten seconds, on a manual clock: one line for a burst of errors") {
        using namespace std::chrono_literals;
        auto now = service::usage_recorder::clock::time_point{} + 1h;
        const auto first_error = now;
        service::usage_recorder usage(
            *store, on_storage_error::open, [&](const std::string& line) { log.push_back(line); },
            1000, service::usage_recorder::log_interval, [&] { return now; });
        // 50 failed writes and reopens spread over 9.8 s of the interval.
        for (int i = 0; i < 50; ++i) {
            record_failing(usage, 1);
            now += 200ms;
        }
        REQUIRE(log.size() == 1);
        CHECK(usage.storage_errors() >= 50);
        now = first_error + service::usage_recorder::log_interval - 1ns;
        record_failing(usage, 1);
        REQUIRE(log.size() == 1);
        // A full interval after the first line: the summary, then quiet again for an interval.
        now = first_error + service::usage_recorder::log_interval;
        record_failing(usage, 1);
        REQUIRE(log.size() == 2);
        CHECK(log[1].find("storage still failing after 10 s") != std::string::npos);
        now += service::usage_recorder::log_interval - 1ns;
        record_failing(usage, 5);
        REQUIRE(log.size() == 2);
        now += 1ns;
        record_failing(usage, 1);
        REQUIRE(log.size() == 3);
        CHECK(log[2].find("storage still failing after 20 s") != std::string::npos);
    }
}
