// The etcd client against a real etcd (Debian's etcd-server), one member on loopback.

#include "cluster/etcd_client.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/etcd_member.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

using namespace rl::cluster;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

etcd_options options_for(std::vector<std::string> endpoints) {
    etcd_options options;
    options.endpoints = std::move(endpoints);
    options.connect_timeout = 300ms;
    options.request_timeout = 1000ms;
    return options;
}

// What a watch delivered, for the test thread to wait on.
class watch_log {
public:
    watch_handler handler() {
        return {[this](const watch_update& update) {
                    std::lock_guard<std::mutex> lock(mutex_);
                    for (const auto& event : update.events) events_.push_back(event);
                    changed_.notify_all();
                },
                [this](const etcd_error& error) {
                    std::lock_guard<std::mutex> lock(mutex_);
                    errors_.push_back(error);
                    changed_.notify_all();
                }};
    }

    std::vector<watch_event> wait_for_events(std::size_t count, std::chrono::milliseconds limit) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, limit, [&] { return events_.size() >= count; });
        return events_;
    }
    std::vector<etcd_error> wait_for_errors(std::size_t count, std::chrono::milliseconds limit) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, limit, [&] { return errors_.size() >= count; });
        return errors_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<watch_event> events_;
    std::vector<etcd_error> errors_;
};

// A TCP listener that never accepts: connections complete in its backlog, requests go
// unanswered.
class silent_listener {
public:
    silent_listener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        port_ = ntohs(addr.sin_port);
    }
    ~silent_listener() { ::close(fd_); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    int fd_;
    int port_ = 0;
};

std::string dead_endpoint() {
    return "http://127.0.0.1:" + std::to_string(rl::testing::free_port());
}

}  // namespace

TEST_CASE("etcd: put, get, prefix ranges and deletes, binary-safe") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    etcd_client client(options_for({etcd.client_url()}));

    const auto first = client.put("/t/a", "1");
    REQUIRE(first.ok());
    REQUIRE(client.put("/t/b", "2").ok());
    REQUIRE(client.put("/t/c/d", "3").ok());
    REQUIRE(client.put("/u", "outside").ok());

    const auto a = client.get("/t/a");
    REQUIRE(a.ok());
    REQUIRE(a->kvs.size() == 1);
    REQUIRE(a->kvs[0].key == "/t/a");
    REQUIRE(a->kvs[0].value == "1");
    REQUIRE(a->kvs[0].create_revision == first->revision);
    REQUIRE(a->kvs[0].mod_revision == first->revision);
    REQUIRE(a->kvs[0].version == 1);
    REQUIRE(a->revision >= first->revision + 3);

    const auto missing = client.get("/t/none");
    REQUIRE(missing.ok());
    REQUIRE(missing->kvs.empty());

    const auto all = client.get_prefix("/t/");
    REQUIRE(all.ok());
    REQUIRE(all->kvs.size() == 3);
    REQUIRE(all->kvs[0].key == "/t/a");
    REQUIRE(all->kvs[1].key == "/t/b");
    REQUIRE(all->kvs[2].key == "/t/c/d");
    REQUIRE_FALSE(all->more);

    range_options page;
    page.limit = 2;
    const auto first_page = client.get_prefix("/t/", page);
    REQUIRE(first_page.ok());
    REQUIRE(first_page->kvs.size() == 2);
    REQUIRE(first_page->more);
    REQUIRE(first_page->count == 3);

    // A read at an older revision sees the value of then.
    REQUIRE(client.put("/t/a", "1b").ok());
    range_options then;
    then.revision = first->revision;
    const auto old = client.get("/t/a", then);
    REQUIRE(old.ok());
    REQUIRE(old->kvs.at(0).value == "1");

    // Keys and values are bytes: every byte value, and each base64 padding length.
    std::string bytes;
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
    for (const std::string& value :
         {std::string(), std::string("x"), std::string("xy"), std::string("xyz"), bytes}) {
        const std::string key = std::string("/bin/\0\xff", 7) + std::to_string(value.size());
        REQUIRE(client.put(key, value).ok());
        const auto back = client.get(key);
        REQUIRE(back.ok());
        REQUIRE(back->kvs.at(0).key == key);
        REQUIRE(back->kvs.at(0).value == value);
    }

    const auto erased = client.erase("/t/a");
    REQUIRE(erased.ok());
    REQUIRE(erased->deleted == 1);
    const auto erased_prefix = client.erase_prefix("/t/");
    REQUIRE(erased_prefix.ok());
    REQUIRE(erased_prefix->deleted == 2);
    REQUIRE(client.get_prefix("/t/")->kvs.empty());
    REQUIRE(client.get("/u")->kvs.at(0).value == "outside");
}

TEST_CASE("etcd: a transaction creates only if absent, and compare-and-swap") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    etcd_client client(options_for({etcd.client_url()}));

    const auto won = client.txn({txn_compare::absent("/owners/01")},
                                {txn_op::put("/owners/01", "rl1")}, {txn_op::get("/owners/01")});
    REQUIRE(won.ok());
    REQUIRE(won->succeeded);
    const auto lost = client.txn({txn_compare::absent("/owners/01")},
                                 {txn_op::put("/owners/01", "rl2")}, {txn_op::get("/owners/01")});
    REQUIRE(lost.ok());
    REQUIRE_FALSE(lost->succeeded);
    REQUIRE(lost->kvs.size() == 1);
    REQUIRE(lost->kvs[0].value == "rl1");  // the failure branch's get: who holds it

    // Compare-and-swap on the mod revision: the first writer wins, a stale one loses.
    const std::int64_t seen = client.get("/owners/01")->kvs.at(0).mod_revision;
    const auto swapped = client.txn({txn_compare::mod_revision_is("/owners/01", seen)},
                                    {txn_op::put("/owners/01", "rl3")});
    REQUIRE(swapped.ok());
    REQUIRE(swapped->succeeded);
    const auto stale = client.txn({txn_compare::mod_revision_is("/owners/01", seen)},
                                  {txn_op::put("/owners/01", "rl4")});
    REQUIRE(stale.ok());
    REQUIRE_FALSE(stale->succeeded);
    REQUIRE(client.get("/owners/01")->kvs.at(0).value == "rl3");

    // Release only what one holds (value compare), version compare, and deletes in a txn.
    const auto not_mine =
        client.txn({txn_compare::value_is("/owners/01", "rl1")}, {txn_op::erase("/owners/01")});
    REQUIRE(not_mine.ok());
    REQUIRE_FALSE(not_mine->succeeded);
    REQUIRE(client
                .txn({txn_compare::version_is("/owners/01", 2)},
                     {txn_op::put("/k/1", "a"), txn_op::put("/k/2", "b")})
                ->succeeded);
    const auto released = client.txn({txn_compare::value_is("/owners/01", "rl3")},
                                     {txn_op::erase("/owners/01"), txn_op::erase_prefix("/k/")});
    REQUIRE(released.ok());
    REQUIRE(released->succeeded);
    REQUIRE(client.get("/owners/01")->kvs.empty());
    REQUIRE(client.get_prefix("/k/")->kvs.empty());
}

TEST_CASE("etcd: a lease not kept alive expires with its keys; one kept alive survives") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    etcd_client client(options_for({etcd.client_url()}));

    const auto dropped = client.lease_grant(2);
    const auto kept = client.lease_grant(2);
    REQUIRE(dropped.ok());
    REQUIRE(kept.ok());
    REQUIRE(dropped->ttl_s == 2);
    REQUIRE(client.put("/members/dropped", "x", dropped->id).ok());
    REQUIRE(client.put("/members/kept", "y", kept->id).ok());
    const auto attached = client.lease_time_to_live(dropped->id);
    REQUIRE(attached.ok());
    REQUIRE(attached->granted_ttl_s == 2);
    REQUIRE(attached->keys == std::vector<std::string>{"/members/dropped"});
    REQUIRE(client.get("/members/dropped")->kvs.at(0).lease == dropped->id);

    const auto start = clock_type::now();
    std::optional<clock_type::duration> vanished;
    while (clock_type::now() - start < 6s) {
        const auto renewed = client.lease_keepalive(kept->id);
        REQUIRE(renewed.ok());
        REQUIRE(renewed->ttl_s == 2);
        if (!vanished && client.get("/members/dropped")->kvs.empty())
            vanished = clock_type::now() - start;
        if (vanished && clock_type::now() - start > *vanished + 1500ms) break;
        std::this_thread::sleep_for(250ms);
    }
    REQUIRE(vanished.has_value());
    REQUIRE(*vanished >= 1500ms);  // not before its TTL (less the time to grant and put)
    REQUIRE(client.get("/members/kept")->kvs.size() == 1);

    const auto expired = client.lease_keepalive(dropped->id);
    REQUIRE_FALSE(expired.ok());
    REQUIRE(expired.error().code == etcd_errc::lease_not_found);
    REQUIRE(client.lease_time_to_live(dropped->id).error().code == etcd_errc::lease_not_found);

    // Revoking takes the keys at once.
    REQUIRE(client.lease_revoke(kept->id).ok());
    REQUIRE(client.get("/members/kept")->kvs.empty());
    REQUIRE(client.lease_revoke(kept->id).error().code == etcd_errc::lease_not_found);
}

TEST_CASE("etcd watch: puts and deletes in order, each with its revision") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    etcd_client client(options_for({etcd.client_url()}));
    const std::int64_t before = client.put("/rl/other", "not watched")->revision;

    watch_log log;
    auto watch = client.watch_prefix("/rl/w/", before + 1, log.handler());
    std::vector<std::int64_t> revisions;
    revisions.push_back(client.put("/rl/w/a", "1")->revision);
    revisions.push_back(client.put("/rl/w/b", "2")->revision);
    client.put("/rl/other", "still not watched");
    revisions.push_back(client.erase("/rl/w/a")->revision);
    revisions.push_back(client.put("/rl/w/b", "3")->revision);
    const auto both = client.txn({}, {txn_op::put("/rl/w/c", "4"), txn_op::erase("/rl/w/b")});
    REQUIRE(both.ok());

    const auto events = log.wait_for_events(6, 5s);
    REQUIRE(events.size() == 6);
    REQUIRE(events[0].what == watch_event::kind::put);
    REQUIRE(events[0].kv.key == "/rl/w/a");
    REQUIRE(events[0].kv.value == "1");
    REQUIRE(events[1].kv.key == "/rl/w/b");
    REQUIRE(events[2].what == watch_event::kind::erase);
    REQUIRE(events[2].kv.key == "/rl/w/a");
    REQUIRE(events[3].kv.value == "3");
    REQUIRE(events[3].kv.version == 2);
    for (std::size_t i = 0; i < revisions.size(); ++i)
        REQUIRE(events[i].kv.mod_revision == revisions[i]);
    // One transaction: one revision for both of its events.
    REQUIRE(events[4].kv.mod_revision == both->revision);
    REQUIRE(events[5].kv.mod_revision == both->revision);
    REQUIRE(events[5].what == watch_event::kind::erase);
    REQUIRE(watch->next_revision() == both->revision + 1);
    REQUIRE(watch->running());

    // A watch from an earlier revision replays the history since then.
    watch_log replay;
    auto again = client.watch_key("/rl/w/b", revisions[1], replay.handler());
    const auto history = replay.wait_for_events(3, 5s);
    REQUIRE(history.size() == 3);
    REQUIRE(history[0].kv.mod_revision == revisions[1]);
    REQUIRE(history[1].kv.mod_revision == revisions[3]);
    REQUIRE(history[2].what == watch_event::kind::erase);
}

TEST_CASE("etcd watch: after etcd restarts it resumes from the last revision seen") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    auto options = options_for({etcd.client_url()});
    // Long enough that the writes below land while the watch is still disconnected.
    options.watch_reconnect_delay = 1500ms;
    etcd_client client(options);

    watch_log log;
    // From a known revision: a watch "from now" may start after the first put.
    const std::int64_t start = client.get("/rl/")->revision + 1;
    auto watch = client.watch_prefix("/rl/", start, log.handler());
    const std::int64_t r1 = client.put("/rl/1", "a")->revision;
    REQUIRE(log.wait_for_events(1, 5s).size() == 1);

    etcd.stop();
    const auto lost = log.wait_for_errors(1, 5s);
    REQUIRE(lost.size() >= 1);
    // What etcd says on its way down varies (the gateway's "transport is closing", a cancel, a
    // reset connection); none of it ends the watch.
    INFO(lost[0].message);
    REQUIRE(lost[0].code != etcd_errc::compacted);
    REQUIRE(lost[0].code != etcd_errc::handler_failed);
    REQUIRE(watch->running());
    etcd.start();
    const std::int64_t r2 = client.put("/rl/2", "b")->revision;
    const std::int64_t r3 = client.put("/rl/3", "c")->revision;

    const auto events = log.wait_for_events(3, 10s);
    INFO("etcd log:\n" << etcd.log());
    REQUIRE(events.size() == 3);  // none lost, none twice
    REQUIRE(events[0].kv.mod_revision == r1);
    REQUIRE(events[1].kv.mod_revision == r2);
    REQUIRE(events[1].kv.key == "/rl/2");
    REQUIRE(events[2].kv.mod_revision == r3);
    REQUIRE(watch->next_revision() == r3 + 1);
}

TEST_CASE("etcd watch: a compacted start revision is an error the caller reloads on") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    etcd_client client(options_for({etcd.client_url()}));
    const std::int64_t early = client.put("/rl/x", "1")->revision;
    client.put("/rl/x", "2");
    const std::int64_t late = client.put("/rl/x", "3")->revision;
    const auto compaction = rl::testing::http_request(
        "POST", etcd.client_url() + "/v3/kv/compaction", {},
        "{\"revision\":\"" + std::to_string(late) + "\",\"physical\":true}");
    REQUIRE(compaction.status == 200);

    watch_log log;
    auto watch = client.watch_prefix("/rl/", early, log.handler());
    const auto errors = log.wait_for_errors(1, 5s);
    REQUIRE(errors.size() == 1);
    REQUIRE(errors[0].code == etcd_errc::compacted);
    REQUIRE(errors[0].compact_revision == late);
    for (int i = 0; i < 100 && watch->running(); ++i) std::this_thread::sleep_for(10ms);
    REQUIRE_FALSE(watch->running());

    range_options at_early;
    at_early.revision = early;
    REQUIRE(client.get("/rl/x", at_early).error().code == etcd_errc::compacted);
}

TEST_CASE("etcd watch: a handler that throws stops the watch with an error, not the process") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    etcd_client client(options_for({etcd.client_url()}));
    std::mutex mutex;
    std::condition_variable done;
    std::optional<etcd_error> reported;
    const std::int64_t start = client.get("/rl/")->revision + 1;
    auto watch = client.watch_prefix("/rl/", start,
                                     {[](const watch_update&) { throw std::runtime_error("boom"); },
                                      [&](const etcd_error& error) {
                                          std::lock_guard<std::mutex> lock(mutex);
                                          reported = error;
                                          done.notify_all();
                                      }});
    client.put("/rl/x", "1");
    std::unique_lock<std::mutex> lock(mutex);
    done.wait_for(lock, 5s, [&] { return reported.has_value(); });
    REQUIRE(reported.has_value());
    REQUIRE(reported->code == etcd_errc::handler_failed);
    REQUIRE(reported->message.find("boom") != std::string::npos);
}

TEST_CASE("etcd: a dead endpoint fails within its timeout and the next one serves") {
    rl::testing::temp_dir dir;
    rl::testing::etcd_member etcd(dir.path());
    silent_listener silent;

    SECTION("refused connection: the next endpoint at once") {
        etcd_client client(options_for({dead_endpoint(), etcd.client_url()}));
        const auto start = clock_type::now();
        REQUIRE(client.put("/rl/a", "1").ok());
        REQUIRE(clock_type::now() - start < 500ms);
    }
    SECTION("an endpoint that never answers: its timeout, then the next") {
        auto options = options_for({silent.url(), etcd.client_url()});
        options.request_timeout = 300ms;
        etcd_client client(options);
        auto start = clock_type::now();
        REQUIRE(client.put("/rl/a", "1").ok());
        const auto first = clock_type::now() - start;
        REQUIRE(first >= 250ms);
        REQUIRE(first < 1500ms);
        // The endpoint that answered is tried first from then on.
        start = clock_type::now();
        REQUIRE(client.get("/rl/a").ok());
        REQUIRE(clock_type::now() - start < 250ms);
    }
    SECTION("only dead endpoints: a typed error within the timeouts") {
        auto options = options_for({silent.url(), dead_endpoint()});
        options.request_timeout = 300ms;
        etcd_client client(options);
        const auto start = clock_type::now();
        const auto result = client.get("/rl/a");
        REQUIRE(clock_type::now() - start < 1500ms);
        REQUIRE_FALSE(result.ok());
        REQUIRE(result.error().code == etcd_errc::unreachable);
        REQUIRE(result.error().message.find("127.0.0.1") != std::string::npos);
    }
    SECTION("a transaction sent to a silent endpoint is not replayed elsewhere") {
        auto options = options_for({silent.url(), etcd.client_url()});
        options.request_timeout = 300ms;
        etcd_client client(options);
        const auto unknown =
            client.txn({txn_compare::absent("/rl/o")}, {txn_op::put("/rl/o", "rl1")});
        REQUIRE_FALSE(unknown.ok());
        REQUIRE(unknown.error().code == etcd_errc::timeout);
        REQUIRE(client.get("/rl/o")->kvs.empty());
        // The caller's retry goes to the next endpoint.
        REQUIRE(
            client.txn({txn_compare::absent("/rl/o")}, {txn_op::put("/rl/o", "rl1")})->succeeded);
    }
    SECTION("a watch skips a dead endpoint") {
        auto options = options_for({dead_endpoint(), etcd.client_url()});
        options.watch_reconnect_delay = 50ms;
        etcd_client client(options);
        watch_log log;
        auto watch = client.watch_prefix("/rl/", 1, log.handler());
        const std::int64_t revision = client.put("/rl/w", "1")->revision;
        const auto events = log.wait_for_events(1, 5s);
        REQUIRE(events.size() == 1);
        REQUIRE(events[0].kv.mod_revision == revision);
    }
}
