#include "cluster/catalog_sync.hpp"

#include <fmt/format.h>

#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "cluster/catalog_records.hpp"
#include "cluster/layout.hpp"
#include "storage/codec.hpp"

namespace rl::cluster {

namespace {

using storage::key_record;
using storage::plan_record;
using storage::user_record;
using namespace std::chrono_literals;

constexpr std::int64_t page_size = 500;
constexpr std::int64_t ack_lease_ttl_s = 5;
constexpr auto ack_keepalive_every = 1s;
constexpr auto retry_after = 1s;
constexpr auto ack_retry_after = 100ms;
// A revision with no catalog change in it is kept in memory; written to the cache at most this
// often, so a restart rarely starts from an older one.
constexpr auto persist_quiet_revisions_every = 5s;

[[noreturn]] void fail(const etcd_error& error, std::string_view doing) {
    throw storage::storage_error(storage::storage_errc::io_error,
                                 fmt::format("etcd: {}: {}", doing, error.message));
}

std::string hash_bytes(const storage::key_hash& hash) {
    return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

key_record revoked(key_record key) {
    if (key.revoked_at == 0) key.revoked_at = std::max<common::unix_seconds>(common::wall_now(), 1);
    return key;
}

// Into a catalog_batch or catalog_changes.
template <typename Records>
void add(Records& batch, admin::catalog_record record) {
    std::visit(
        [&](auto& r) {
            using R = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<R, plan_record>) batch.plans.push_back(std::move(r));
            if constexpr (std::is_same_v<R, user_record>) batch.users.push_back(std::move(r));
            if constexpr (std::is_same_v<R, key_record>) batch.keys.push_back(std::move(r));
        },
        record);
}

}  // namespace

catalog_sync::catalog_sync(etcd_client& etcd, storage::data_dir& store,
                           admin::catalog_observer& observer, std::string node_id, log_function log)
    : etcd_(etcd),
      store_(store),
      observer_(observer),
      node_(std::move(node_id)),
      log_(log ? std::move(log) : [](const std::string&) {}) {}

catalog_sync::~catalog_sync() {
    stop();
}

void catalog_sync::load() {
    const std::int64_t cached = store_.catalog().revision();
    if (cached > 0) {
        // A read at the cache's revision answers only while etcd still has that history.
        range_options at;
        at.revision = cached;
        at.keys_only = true;
        auto probe = etcd_.get(std::string(layout::config_key), at);
        if (probe) {
            persisted_ = cached;
            persisted_at_ = std::chrono::steady_clock::now();
            set_applied(cached, true);
            return;
        }
        const auto& error = probe.error();
        const bool gone = error.code == etcd_errc::compacted ||
                          (error.code == etcd_errc::rejected &&
                           error.message.find("future revision") != std::string::npos);
        if (!gone) fail(error, "read at the cache's revision");
        log_(fmt::format("catalog cache at revision {} is outside etcd's history ({}): reloading",
                         cached, error.message));
    }
    reload(false);
}

// The whole catalog at one revision, a page at a time; keys of users it does not hold (left by
// a delete cut short) are dropped, as a node's cache never holds them.
void catalog_sync::reload(bool tell_observer) {
    storage::catalog_batch fresh;
    std::int64_t revision = 0;
    for (const std::string_view prefix :
         {layout::plans_prefix, layout::users_prefix, layout::keys_prefix}) {
        const auto failed = for_each_in_prefix(
            etcd_, prefix, revision, false,
            [&](const key_value& kv) {
                const auto name = parse_catalog_key(kv.key);
                if (!name) return;
                auto record = decode_catalog_value(*name, kv.value);
                if (!record) {
                    log_(fmt::format("catalog: {} does not decode; skipped", kv.key));
                    return;
                }
                add(fresh, std::move(*record));
            },
            page_size);
        if (failed) fail(*failed, "read the catalog");
    }
    {
        std::unordered_set<std::string_view> users;
        for (const auto& user : fresh.users) users.insert(user.name);
        std::vector<key_record> kept;
        for (auto& key : fresh.keys)
            if (users.count(key.user)) kept.push_back(std::move(key));
        fresh.keys = std::move(kept);
    }

    // A single node's catalog is not given up for an empty one: that is a missed migration.
    const auto& local = store_.catalog();
    if (fresh.plans.empty() && fresh.users.empty() && local.revision() == 0 &&
        (!local.list_users({}, 1).empty() || !local.list_plans({}, 1).empty()))
        throw storage::storage_error(
            storage::storage_errc::exists,
            fmt::format("{} holds a single node's catalog and etcd's is empty: copy it in with "
                        "`rlctl cluster init --from-data-dir` (node stopped) first",
                        store_.directory()));

    // What the observer must hear: every record that differs, and everything that went.
    std::vector<plan_record> vanished_plans;
    std::vector<std::string> vanished_users;
    std::vector<key_record> vanished_keys;
    std::vector<plan_record> changed_plans;
    std::vector<user_record> changed_users;
    std::vector<key_record> changed_keys;
    if (tell_observer) {
        const auto& cache = store_.catalog();
        std::unordered_map<std::string, std::string> old_plans, old_users, old_keys;
        for (const auto& plan : cache.list_plans({}, std::numeric_limits<std::size_t>::max()))
            old_plans.emplace(plan.name, storage::codec::encode_plan(plan));
        for (const auto& user : cache.list_users())
            old_users.emplace(user.name, storage::codec::encode_user(user));
        std::unordered_map<std::string, key_record> old_key_records;
        cache.for_each_key([&](const key_record& key) {
            old_keys.emplace(hash_bytes(key.hash), storage::codec::encode_key(key));
            old_key_records.emplace(hash_bytes(key.hash), key);
        });
        for (const auto& plan : fresh.plans) {
            auto it = old_plans.find(plan.name);
            if (it == old_plans.end() || it->second != storage::codec::encode_plan(plan))
                changed_plans.push_back(plan);
            if (it != old_plans.end()) old_plans.erase(it);
        }
        for (const auto& user : fresh.users) {
            auto it = old_users.find(user.name);
            if (it == old_users.end() || it->second != storage::codec::encode_user(user))
                changed_users.push_back(user);
            if (it != old_users.end()) old_users.erase(it);
        }
        for (const auto& key : fresh.keys) {
            auto it = old_keys.find(hash_bytes(key.hash));
            if (it == old_keys.end() || it->second != storage::codec::encode_key(key))
                changed_keys.push_back(key);
            if (it != old_keys.end()) old_keys.erase(it);
        }
        for (auto& [name, bytes] : old_plans)
            if (auto plan = storage::codec::decode_plan(name, bytes))
                vanished_plans.push_back(*plan);
        for (auto& [name, bytes] : old_users) vanished_users.push_back(name);
        const std::unordered_set<std::string> gone_users(vanished_users.begin(),
                                                         vanished_users.end());
        for (auto& [hash, bytes] : old_keys) {
            const key_record& key = old_key_records.at(hash);
            if (!gone_users.count(key.user)) vanished_keys.push_back(key);
        }
    }

    store_.catalog().replace_all(fresh, revision);
    {
        std::lock_guard lock(mutex_);
        persisted_ = revision;
        persisted_at_ = std::chrono::steady_clock::now();
    }
    ++reloads_;
    if (tell_observer) {
        for (const auto& plan : changed_plans) observer_.plan_changed(plan);
        if (!changed_users.empty()) observer_.users_changed(changed_users);
        for (const auto& key : changed_keys) observer_.key_changed(key);
        for (const auto& key : vanished_keys) observer_.key_changed(revoked(key));
        for (const auto& name : vanished_users) observer_.user_deleted(name);
        for (const auto& plan : vanished_plans) observer_.plan_deleted(plan.name);
    }
    log_(fmt::format("catalog loaded from etcd at revision {}: {} plans, {} users, {} keys",
                     revision, fresh.plans.size(), fresh.users.size(), fresh.keys.size()));
    set_applied(revision, true);
}

void catalog_sync::apply(const watch_update& update) {
    // The last event of each key is what holds at the update's revision.
    std::map<std::string, const watch_event*> last;
    for (const auto& event : update.events)
        if (parse_catalog_key(event.kv.key)) last[event.kv.key] = &event;

    storage::catalog_changes changes;
    for (const auto& [key, event] : last) {
        const auto name = parse_catalog_key(key);
        if (event->what == watch_event::kind::erase) {
            switch (name->what) {
                case catalog_name::kind::plan: changes.deleted_plans.push_back(name->name); break;
                case catalog_name::kind::user: changes.deleted_users.push_back(name->name); break;
                case catalog_name::kind::key: changes.deleted_keys.push_back(name->hash); break;
            }
            continue;
        }
        auto record = decode_catalog_value(*name, event->kv.value);
        if (!record) {
            log_(fmt::format("catalog: {} at revision {} does not decode; skipped", key,
                             event->kv.mod_revision));
            continue;
        }
        add(changes, std::move(*record));
    }

    if (changes.empty()) {
        bool persist = false;
        {
            std::lock_guard lock(mutex_);
            persist =
                update.revision > persisted_ &&
                std::chrono::steady_clock::now() - persisted_at_ >= persist_quiet_revisions_every;
        }
        if (persist) {
            store_.catalog().apply(changes, update.revision);
            std::lock_guard lock(mutex_);
            persisted_ = update.revision;
            persisted_at_ = std::chrono::steady_clock::now();
        }
        set_applied(update.revision, false);
        return;
    }

    // Erased keys of users who stay: the observer drops them as revoked.
    const std::unordered_set<std::string> users_going(changes.deleted_users.begin(),
                                                      changes.deleted_users.end());
    std::vector<key_record> keys_going;
    for (const auto& hash : changes.deleted_keys)
        if (auto key = store_.catalog().find_key(hash); key && !users_going.count(key->user))
            keys_going.push_back(revoked(std::move(*key)));

    store_.catalog().apply(changes, update.revision);
    {
        std::lock_guard lock(mutex_);
        persisted_ = update.revision;
        persisted_at_ = std::chrono::steady_clock::now();
    }
    for (const auto& plan : changes.plans) observer_.plan_changed(plan);
    if (changes.users.size() == 1) observer_.user_changed(changes.users.front());
    if (changes.users.size() > 1) observer_.users_changed(changes.users);
    for (const auto& key : changes.keys) observer_.key_changed(key);
    for (const auto& key : keys_going) observer_.key_changed(key);
    for (const auto& name : changes.deleted_users) observer_.user_deleted(name);
    for (const auto& name : changes.deleted_plans) observer_.plan_deleted(name);
    set_applied(update.revision, true);
}

void catalog_sync::set_applied(std::int64_t revision, bool catalog_changed) {
    {
        std::lock_guard lock(mutex_);
        if (revision > applied_.load()) applied_.store(revision);
        if (catalog_changed) ack_target_ = std::max(ack_target_, revision);
    }
    changed_.notify_all();
}

bool catalog_sync::wait_applied(std::int64_t revision, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return applied_.load() >= revision; });
}

void catalog_sync::start() {
    std::lock_guard lock(mutex_);
    if (started_) return;
    started_ = true;
    stopping_ = false;
    watcher_ = std::thread([this] { run_watch(); });
    acker_ = std::thread([this] { run_acks(); });
}

void catalog_sync::stop() {
    {
        std::lock_guard lock(mutex_);
        if (!started_) return;
        stopping_ = true;
    }
    changed_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    if (acker_.joinable()) acker_.join();
    std::lock_guard lock(mutex_);
    started_ = false;
}

// Owns the watch: starts it from the revision after the applied one, and after it stopped for
// good (a compacted history, or a cache write that failed) reloads or retries.
void catalog_sync::run_watch() {
    for (;;) {
        watch_handler handler;
        handler.on_update = [this](const watch_update& update) { apply(update); };
        handler.on_error = [this](const etcd_error& error) {
            if (error.code != etcd_errc::compacted && error.code != etcd_errc::handler_failed) {
                log_(fmt::format("catalog watch: {} (reconnecting)", error.message));
                return;
            }
            {
                std::lock_guard lock(mutex_);
                watch_ended_ = error;
            }
            changed_.notify_all();
        };
        auto watch =
            etcd_.watch_prefix(std::string(layout::root), applied_.load() + 1, std::move(handler));
        std::optional<etcd_error> ended;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || watch_ended_.has_value(); });
            if (stopping_) return;
            ended = std::move(watch_ended_);
            watch_ended_.reset();
        }
        watch.reset();
        if (ended->code == etcd_errc::compacted) {
            log_(fmt::format("catalog watch: history compacted after revision {}: reloading",
                             applied_.load()));
            for (;;) {
                try {
                    reload(true);
                    break;
                } catch (const std::exception& e) {
                    log_(fmt::format("catalog reload failed: {}", e.what()));
                }
                std::unique_lock lock(mutex_);
                if (changed_.wait_for(lock, retry_after, [&] { return stopping_; })) return;
            }
        } else {
            log_(fmt::format("catalog watch stopped: {}; retrying", ended->message));
            std::unique_lock lock(mutex_);
            if (changed_.wait_for(lock, retry_after, [&] { return stopping_; })) return;
        }
    }
}

// acks/<node> under a lease of its own, renewed every second; rewritten after each catalog
// change, and again whenever the lease had to be granted anew.
void catalog_sync::run_acks() {
    std::int64_t lease = 0;
    std::int64_t acked = 0;
    auto renewed = std::chrono::steady_clock::now();
    for (;;) {
        std::int64_t target = 0;
        {
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, ack_keepalive_every,
                              [&] { return stopping_ || ack_target_ > acked; });
            if (stopping_) break;
            target = ack_target_;
        }
        if (lease == 0) {
            auto granted = etcd_.lease_grant(ack_lease_ttl_s);
            if (!granted) {
                log_(fmt::format("catalog acks: lease grant failed: {}", granted.error().message));
                std::unique_lock lock(mutex_);
                changed_.wait_for(lock, retry_after, [&] { return stopping_; });
                continue;
            }
            lease = granted->id;
            renewed = std::chrono::steady_clock::now();
            acked = 0;
        } else if (std::chrono::steady_clock::now() - renewed >= ack_keepalive_every) {
            auto renewal = etcd_.lease_keepalive(lease);
            if (renewal) {
                renewed = std::chrono::steady_clock::now();
            } else if (renewal.error().code == etcd_errc::lease_not_found) {
                log_("catalog acks: lease expired; granting a new one");
                lease = 0;
                continue;
            }
        }
        if (target > acked) {
            auto put = etcd_.put(layout::ack_key(node_), std::to_string(target), lease);
            if (put)
                acked = target;
            else if (put.error().code == etcd_errc::lease_not_found)
                lease = 0;
            else
                log_(fmt::format("catalog acks: {}", put.error().message));
            if (!put) {
                std::unique_lock lock(mutex_);
                changed_.wait_for(lock, ack_retry_after, [&] { return stopping_; });
            }
        }
    }
    if (lease != 0) etcd_.lease_revoke(lease);
}

}  // namespace rl::cluster
