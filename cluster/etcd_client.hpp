#pragma once
// An etcd v3 client over etcd's JSON gateway (`<endpoint>/v3/...`, served by etcd 3.4 and
// later), on libcurl. Every call has a connect and a total timeout, tries the endpoints in
// turn, and answers with a typed result; nothing throws.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rl::cluster {

enum class etcd_errc {
    unreachable,      // no endpoint could be connected to
    timeout,          // connected, but no complete answer in time (a write may have applied)
    unavailable,      // etcd answered that it cannot serve now (no leader, shutting down)
    compacted,        // the revision asked for is no longer in etcd's history: reload
    lease_not_found,  // the lease expired or was revoked
    rejected,         // etcd refused the request (its message says why)
    bad_reply,        // an answer that is not the JSON etcd sends
    handler_failed,   // a watch handler threw; the watch has stopped
};

struct etcd_error {
    etcd_errc code;
    std::string message;
    std::int64_t compact_revision = 0;  // with `compacted`, when etcd says it
};

// A value or an etcd_error, like std::expected.
template <typename T>
class etcd_result {
public:
    etcd_result(T value) : state_(std::move(value)) {}
    etcd_result(etcd_error error) : state_(std::move(error)) {}

    bool ok() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    const T& value() const& { return std::get<0>(state_); }
    T& value() & { return std::get<0>(state_); }
    const T* operator->() const { return &std::get<0>(state_); }
    const T& operator*() const& { return std::get<0>(state_); }
    const etcd_error& error() const& { return std::get<1>(state_); }

private:
    std::variant<T, etcd_error> state_;
};

struct key_value {
    std::string key;
    std::string value;
    std::int64_t create_revision = 0;
    std::int64_t mod_revision = 0;
    std::int64_t version = 0;
    std::int64_t lease = 0;
};

// `revision` is etcd's current revision when it answered (the header's).
struct range_result {
    std::int64_t revision = 0;
    std::vector<key_value> kvs;
    bool more = false;  // a `limit` cut the answer short
    std::int64_t count = 0;
};

struct write_result {
    std::int64_t revision = 0;
    std::int64_t deleted = 0;  // for deletes: how many keys went
};

struct range_options {
    std::int64_t limit = 0;     // 0: no limit
    std::int64_t revision = 0;  // 0: the latest; otherwise a read at that revision
    bool keys_only = false;
};

// One comparison of a transaction, against a key's current state.
struct txn_compare {
    enum class target { version, create_revision, mod_revision, value };
    enum class relation { equal, not_equal, greater, less };
    std::string key;
    target what = target::version;
    relation how = relation::equal;
    std::int64_t number = 0;  // for version and the revisions
    std::string value;        // for value

    static txn_compare absent(std::string key);  // create_revision == 0
    static txn_compare mod_revision_is(std::string key, std::int64_t revision);
    static txn_compare version_is(std::string key, std::int64_t version);
    static txn_compare value_is(std::string key, std::string value);
};

// One operation of a transaction's branch.
struct txn_op {
    enum class kind { put, erase, erase_prefix, get };
    kind what = kind::put;
    std::string key;
    std::string value;
    std::int64_t lease = 0;

    static txn_op put(std::string key, std::string value, std::int64_t lease = 0);
    static txn_op erase(std::string key);
    static txn_op erase_prefix(std::string prefix);
    static txn_op get(std::string key);
};

struct txn_result {
    std::int64_t revision = 0;
    bool succeeded = false;      // which branch ran
    std::vector<key_value> kvs;  // what the branch's `get`s found, in order
};

struct lease_grant_result {
    std::int64_t id = 0;
    std::int64_t ttl_s = 0;
    std::int64_t revision = 0;
};

// `ttl_s` is what etcd reset the lease to (keepalive) or what is left of it (time_to_live).
struct lease_ttl_result {
    std::int64_t ttl_s = 0;
    std::int64_t granted_ttl_s = 0;  // time_to_live only
    std::int64_t revision = 0;
    std::vector<std::string> keys;  // time_to_live only: the keys attached
};

struct watch_event {
    enum class kind { put, erase };
    kind what = kind::put;
    key_value kv;  // kv.mod_revision is the event's revision; an erase carries only the key
};

// What one watch message brought: events in revision order (none for a progress notice), and
// the revision up to which the watch has now seen everything.
struct watch_update {
    std::vector<watch_event> events;
    std::int64_t revision = 0;
};

struct watch_handler {
    // Called on the watch's thread, one update at a time.
    std::function<void(const watch_update&)> on_update;
    // Called on the watch's thread. After `compacted` or `handler_failed` the watch has stopped
    // (reload, then start a new watch); after any other error it reconnects by itself from the
    // revision after the last one delivered.
    std::function<void(const etcd_error&)> on_error;
};

struct etcd_options {
    std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", tried in turn
    std::chrono::milliseconds connect_timeout{500};
    std::chrono::milliseconds request_timeout{2000};  // per endpoint tried
    std::chrono::milliseconds watch_reconnect_delay{200};
};

class etcd_watch;

// Thread-safe: calls from several threads run at once, each on its own connection.
class etcd_client {
public:
    explicit etcd_client(etcd_options options);
    ~etcd_client();
    etcd_client(const etcd_client&) = delete;
    etcd_client& operator=(const etcd_client&) = delete;

    etcd_result<range_result> get(const std::string& key, const range_options& options = {});
    etcd_result<range_result> get_prefix(const std::string& prefix,
                                         const range_options& options = {});
    // The keys in [key, range_end), in key order: a prefix a page at a time.
    etcd_result<range_result> get_range(const std::string& key, const std::string& range_end,
                                        const range_options& options = {});
    etcd_result<write_result> put(const std::string& key, const std::string& value,
                                  std::int64_t lease = 0);
    etcd_result<write_result> erase(const std::string& key);
    etcd_result<write_result> erase_prefix(const std::string& prefix);

    // Runs `success` if every compare holds, `failure` otherwise. Not retried on another
    // endpoint once sent: a `timeout` leaves it unknown whether it applied.
    etcd_result<txn_result> txn(const std::vector<txn_compare>& compares,
                                const std::vector<txn_op>& success,
                                const std::vector<txn_op>& failure = {});

    etcd_result<lease_grant_result> lease_grant(std::int64_t ttl_s);
    // One renewal; the caller's thread repeats it. An expired lease is `lease_not_found`.
    etcd_result<lease_ttl_result> lease_keepalive(std::int64_t id);
    etcd_result<write_result> lease_revoke(std::int64_t id);
    etcd_result<lease_ttl_result> lease_time_to_live(std::int64_t id);

    // Watches `prefix` (every key under it) from `start_revision` on a thread of its own, until
    // the returned object goes. 0 starts when etcd creates the watch, which may be after writes
    // made meanwhile: for no gap, pass the revision after a range's `revision`.
    std::unique_ptr<etcd_watch> watch_prefix(const std::string& prefix, std::int64_t start_revision,
                                             watch_handler handler);
    std::unique_ptr<etcd_watch> watch_key(const std::string& key, std::int64_t start_revision,
                                          watch_handler handler);

    const etcd_options& options() const noexcept { return options_; }

    struct connection;  // a reusable libcurl handle, private to the implementation

private:
    // Idempotent calls move on to the next endpoint after any transport failure; the others
    // only when the request cannot have been sent.
    etcd_result<std::string> call(const std::string& path, const std::string& body,
                                  bool idempotent);
    std::unique_ptr<etcd_watch> start_watch(std::string key, std::string range_end,
                                            std::int64_t start_revision, watch_handler handler);
    std::unique_ptr<connection> take_connection();
    void give_back(std::unique_ptr<connection> handle);

    etcd_options options_;
    std::atomic<std::size_t> preferred_{0};
    std::mutex idle_mutex_;
    std::vector<std::unique_ptr<connection>> idle_;
};

// A running watch; destroying it stops the thread (promptly, even mid-stream).
class etcd_watch {
public:
    ~etcd_watch();
    etcd_watch(const etcd_watch&) = delete;
    etcd_watch& operator=(const etcd_watch&) = delete;

    // The revision the watch resumes from after a reconnect.
    std::int64_t next_revision() const noexcept;
    // False once it stopped for good (compaction or a failed handler).
    bool running() const noexcept;

    struct state;

private:
    friend class etcd_client;
    explicit etcd_watch(std::shared_ptr<state> shared);
    std::shared_ptr<state> state_;
};

// The end of the key range holding every key that starts with `prefix` ("\0" for all keys).
std::string prefix_range_end(const std::string& prefix);

}  // namespace rl::cluster
