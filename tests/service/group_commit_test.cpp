// Group commit on a real event loop, without sockets: the requests decided in one turn of the
// loop share one usage write, each reply goes out only after the write that counts it, and an
// admit whose write storage refused is answered 503 and gives its quota back.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "service/group_commit.hpp"
#include "service/public_replies.hpp"
#include "tests/service/handler_fixture.hpp"

using namespace rl;
using service::limit_outcome;

namespace {

// A request needs a connection to belong to; the sender under test never writes to it.
struct no_connection final : restinio::impl::connection_base_t {
    no_connection() : connection_base_t(1) {}
    void write_response_parts(restinio::request_id_t, restinio::response_output_flags_t,
                              restinio::write_group_t) override {}
    void check_timeout(std::shared_ptr<restinio::tcp_connection_ctx_base_t>&) override {}
};

struct sent {
    std::string target;
    limit_outcome outcome;
    int status;
    std::uint64_t batches_then;  // usage writes started when the reply went out
    std::size_t stored_then;     // usage buckets in storage when the reply went out
};

struct commit_harness : testing::handler_fixture {
    explicit commit_harness(service::on_storage_error mode = service::on_storage_error::open,
                            std::shared_ptr<storage::faulty_disk> faulty = nullptr)
        : handler_fixture({faulty}, mode), disk(std::move(faulty)) {}

    std::shared_ptr<storage::faulty_disk> disk;
    asio::io_context io;
    std::vector<sent> replies;
    service::group_commit commit{
        io, handler, usage,
        [this](const restinio::request_handle_t& req, const service::limit_result& settled,
               service::group_commit::clock::time_point, service::group_commit::clock::time_point) {
            replies.push_back({std::string(req->header().request_target()), settled.outcome,
                               service::render(settled).status, usage.batches(), stored()});
        }};
    restinio::no_extra_data_factory_t extra_data;
    restinio::impl::connection_handle_t connection = std::make_shared<no_connection>();

    storage::usage_count total() const {
        storage::usage_count sum;
        store->usage().scan({storage::usage_resolution::second, 0, INT64_MAX},
                            [&](const storage::usage_bucket& b) { sum += b.count; });
        return sum;
    }

    std::size_t stored() const {
        std::size_t buckets = 0;
        store->usage().scan({storage::usage_resolution::second, 0, INT64_MAX},
                            [&](const storage::usage_bucket&) { ++buckets; });
        return buckets;
    }

    // Decides a /limit request for `key` and hands it to the group commit, as the listener does.
    void submit(const std::string& target, const std::string& key,
                std::chrono::milliseconds at = {}) {
        const auto result = handler.decide(key, t0 + at, wall);
        REQUIRE(result.needs_usage());
        auto request = std::make_shared<restinio::request_t>(
            0, restinio::http_request_header_t{restinio::http_method_get(), target}, std::string(),
            connection, restinio::endpoint_t{}, extra_data);
        commit.submit(std::move(request), result, std::chrono::steady_clock::now());
    }

    // Runs the event loop until nothing is left to do.
    void run() {
        io.restart();
        io.run();
    }
};

}  // namespace

TEST_CASE("requests submitted in one turn of the loop share one write, and each reply follows it") {
    commit_harness h;
    const auto alice = h.key_for("alice", 10);
    const auto bob = h.key_for("bob", 10);

    // One turn of the loop: three requests read together.
    asio::post(h.io, [&] {
        h.submit("/limit?n=1", alice);
        h.submit("/limit?n=2", bob);
        h.submit("/limit?n=3", alice);
        CHECK(h.replies.empty());  // nothing is answered before the write
    });
    h.run();
    REQUIRE(h.replies.size() == 3);
    CHECK(h.usage.batches() == 1);
    for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(h.replies[i].target == "/limit?n=" + std::to_string(i + 1));  // in arrival order
        CHECK(h.replies[i].outcome == limit_outcome::admitted);
        CHECK(h.replies[i].status == 200);
        CHECK(h.replies[i].batches_then == 1);
        CHECK(h.replies[i].stored_then == 2);  // one bucket per (second, key), already written
    }

    // A later turn: a write of its own.
    asio::post(h.io, [&] { h.submit("/limit?n=4", bob, std::chrono::milliseconds(1)); });
    h.run();
    REQUIRE(h.replies.size() == 4);
    CHECK(h.usage.batches() == 2);
    CHECK(h.replies[3].batches_then == 2);
    CHECK(h.counters.decisions(limit_outcome::admitted) == 4);
}

TEST_CASE("a limited request is answered at once; its count is tallied and written once") {
    commit_harness h;
    const auto key = h.key_for("alice", 1);
    asio::post(h.io, [&] {
        h.submit("/limit?n=1", key);
        for (int i = 0; i < 3; ++i) {
            const auto limited = h.handler.decide(key, h.t0, h.wall);
            REQUIRE(limited.outcome == limit_outcome::limited);
            REQUIRE_FALSE(limited.waits_for_usage());
            h.commit.count(limited.usage);  // answered by the caller, not by the commit
        }
    });
    h.run();
    REQUIRE(h.replies.size() == 1);
    CHECK(h.replies[0].status == 200);
    CHECK(h.usage.batches() == 1);  // the admit's write carries no tallied count
    CHECK(h.counters.decisions(limit_outcome::limited) == 3);
    CHECK(h.total().admitted == 1);
    CHECK(h.total().limited == 0);

    // What maintenance does every second: one bucket for the three 429s of that second and key.
    CHECK(h.usage.write_tallied() == service::usage_write::written);
    CHECK(h.usage.batches() == 2);
    CHECK(h.stored() == 1);
    CHECK(h.total().admitted == 1);
    CHECK(h.total().limited == 3);
    CHECK(h.usage.write_tallied() == service::usage_write::written);  // nothing left: no write
    CHECK(h.usage.batches() == 2);
    CHECK(h.total().limited == 3);
}

TEST_CASE("a shadow-limited request is answered at once; its count is tallied") {
    commit_harness h;
    const auto key = h.key_for("alice", 1);
    asio::post(h.io, [&] {
        h.submit("/limit?n=1", key);
        const auto shadow = h.as_shadow(h.handler.decide(key, h.t0, h.wall));
        REQUIRE(shadow.needs_usage());
        REQUIRE_FALSE(shadow.waits_for_usage());
        h.commit.count(shadow.usage);  // answered by the caller, not by the commit
    });
    h.run();
    REQUIRE(h.replies.size() == 1);  // only the admit waited for the write
    CHECK(h.replies[0].outcome == limit_outcome::admitted);
    CHECK(h.usage.batches() == 1);
    CHECK(h.total().shadow_limited == 0);
    h.usage.write_tallied();
    CHECK(h.total().admitted == 1);
    CHECK(h.total().limited == 0);
    CHECK(h.total().shadow_limited == 1);
}

TEST_CASE("counts still tallied when the loop stops are written by drain, once") {
    commit_harness h;
    const auto key = h.key_for("alice", 1);
    h.submit("/limit?n=1", key);  // an admit never answered: the loop does not run
    const auto limited = h.handler.decide(key, h.t0, h.wall);
    h.commit.count(limited.usage);
    h.commit.drain();
    CHECK(h.replies.empty());
    CHECK(h.usage.batches() == 1);
    CHECK(h.total().admitted == 0);  // not answered, not counted
    CHECK(h.total().limited == 1);
    h.run();  // the flush scheduled before the drain finds nothing
    CHECK(h.replies.empty());
    CHECK(h.usage.batches() == 1);
}

TEST_CASE("a refused write answers its admits 503 and refunds their quota") {
    auto disk = std::make_shared<storage::faulty_disk>();
    commit_harness h(service::on_storage_error::closed, disk);
    const auto key = h.key_for("alice", 2);

    disk->fail_writes(storage::disk_fault::io_error);
    asio::post(h.io, [&] {
        h.submit("/limit?n=1", key);
        h.submit("/limit?n=2", key);
    });
    h.run();
    REQUIRE(h.replies.size() == 2);
    for (const auto& reply : h.replies) {
        CHECK(reply.outcome == limit_outcome::storage_unavailable);
        CHECK(reply.status == 503);
    }
    CHECK(h.counters.decisions(limit_outcome::storage_unavailable) == 2);
    CHECK(h.counters.decisions(limit_outcome::admitted) == 0);

    // The quota is whole: both refused admits gave theirs back.
    disk->heal();
    REQUIRE(h.usage.recover());
    asio::post(h.io, [&] {
        h.submit("/limit?n=3", key, std::chrono::milliseconds(1));
        h.submit("/limit?n=4", key, std::chrono::milliseconds(1));
    });
    h.run();
    REQUIRE(h.replies.size() == 4);
    CHECK(h.replies[2].status == 200);
    CHECK(h.replies[3].status == 200);
}
