#include "cluster/ownership.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "cluster/layout.hpp"
#include "common/api_key.hpp"
#include "common/periodic_worker.hpp"

namespace rl::cluster {

using nlohmann::json;
using std::chrono::milliseconds;

boot_ns boot_now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<boot_ns>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t hrw_rank(std::string_view node_id, std::uint32_t group) {
    std::string input(node_id);
    input += ':';
    input += std::to_string(group);
    const common::key_hash digest = common::sha256(input);
    std::uint64_t rank = 0;
    for (int i = 0; i < 8; ++i) rank = (rank << 8) | digest[static_cast<std::size_t>(i)];
    return rank;
}

// ---- /rl/v1/config ----

namespace {

constexpr milliseconds etcd_min_ttl{2000};
constexpr milliseconds min_delivery_gap{1000};  // the longest window a fence must separate

[[noreturn]] void invalid(const std::string& why) {
    throw std::invalid_argument("cluster config: " + why);
}

std::uint64_t unsigned_field(const json& doc, const char* name, std::uint64_t fallback) {
    const auto it = doc.find(name);
    if (it == doc.end()) return fallback;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
        invalid(std::string(name) + " must be a non-negative integer");
    return it->get<std::uint64_t>();
}

milliseconds ms_field(const json& doc, const char* name, milliseconds fallback) {
    return milliseconds(static_cast<milliseconds::rep>(
        unsigned_field(doc, name, static_cast<std::uint64_t>(fallback.count()))));
}

std::string ms_text(milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

}  // namespace

void validate(const cluster_settings& s) {
    if (!layout::is_valid_group_count(s.groups))
        invalid("groups must be 1.." + std::to_string(layout::max_groups) + ", not " +
                std::to_string(s.groups));
    if (s.lease_ttl < etcd_min_ttl)
        invalid("lease_ttl_ms must be at least " + ms_text(etcd_min_ttl) +
                " (etcd's minimum lease), not " + ms_text(s.lease_ttl));
    if (s.keepalive.count() <= 0 || s.keepalive * 2 >= s.lease_ttl)
        invalid("keepalive_ms must be above 0 and below half the lease ttl (" +
                ms_text(s.lease_ttl / 2) + "), not " + ms_text(s.keepalive));
    if (s.reply_deadline.count() <= 0) invalid("reply_deadline_ms must be above 0");
    if (s.fence.count() != 0) {
        if (s.fence < min_delivery_gap + s.reply_deadline)
            invalid(
                "fence_ms must be 0 (fast mode, inexact) or at least 1000 ms + the reply "
                "deadline (" +
                ms_text(min_delivery_gap + s.reply_deadline) + "), not " + ms_text(s.fence));
        if (s.fence >= s.lease_ttl - s.keepalive)
            invalid("fence_ms must be below the lease ttl minus the keepalive interval (" +
                    ms_text(s.lease_ttl - s.keepalive) + "), or a node never admits; not " +
                    ms_text(s.fence));
    }
    if (s.catalog_lag_stop.count() <= 0) invalid("catalog_lag_stop_ms must be above 0");
    if (s.default_limit == 0) invalid("default_limit must be at least 1");
}

std::string to_json(const cluster_settings& s) {
    const json doc = {{"groups", s.groups},
                      {"lease_ttl_ms", s.lease_ttl.count()},
                      {"keepalive_ms", s.keepalive.count()},
                      {"fence_ms", s.fence.count()},
                      {"reply_deadline_ms", s.reply_deadline.count()},
                      {"catalog_lag_stop_ms", s.catalog_lag_stop.count()},
                      {"default_limit", s.default_limit}};
    return doc.dump();
}

cluster_settings settings_from_json(const std::string& text) {
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) invalid("not a JSON object");
    cluster_settings s;
    const std::uint64_t groups = unsigned_field(doc, "groups", s.groups);
    if (groups > layout::max_groups)
        invalid("groups must be 1.." + std::to_string(layout::max_groups) + ", not " +
                std::to_string(groups));
    s.groups = static_cast<std::uint32_t>(groups);
    // The design's first draft wrote whole seconds; accept them when the ms field is absent.
    if (doc.contains("lease_ttl_ms") || !doc.contains("lease_ttl_s"))
        s.lease_ttl = ms_field(doc, "lease_ttl_ms", s.lease_ttl);
    else
        s.lease_ttl = milliseconds(1000 * unsigned_field(doc, "lease_ttl_s", 0));
    s.keepalive = ms_field(doc, "keepalive_ms", s.keepalive);
    s.fence = ms_field(doc, "fence_ms", s.fence);
    s.reply_deadline = ms_field(doc, "reply_deadline_ms", s.reply_deadline);
    s.catalog_lag_stop = ms_field(doc, "catalog_lag_stop_ms", s.catalog_lag_stop);
    const std::uint64_t limit = unsigned_field(doc, "default_limit", s.default_limit);
    if (limit > UINT32_MAX) invalid("default_limit is too large");
    s.default_limit = static_cast<std::uint32_t>(limit);
    validate(s);
    return s;
}

// ---- ownership ----

namespace {

// This node's view of one group; only the ownership's threads touch it, under impl::mutex.
struct group_state {
    bool held = false;       // owners/<g> holds our id under our current lease
    bool ready = false;      // catalog at the acquiring revision and before_admitting returned
    bool releasing = false;  // O2 under way: fenced since release_started
    boot_ns open_until = 0;  // admit-until last published while open (0: closed): fences
    std::int64_t acquired_revision = 0;
    boot_ns release_started = 0;
};

struct member_seen {
    std::int64_t create_revision = 0;
    boot_ns since = 0;
};

}  // namespace

struct ownership::impl {
    impl(etcd_client& etcd, const cluster_settings& settings, const node_address& self,
         ownership_hooks hooks, milliseconds handback_after)
        : etcd(etcd),
          settings(settings),
          self(self),
          hooks(std::move(hooks)),
          handback_after(handback_after),
          words(new std::atomic<std::uint64_t>[settings.groups]),
          groups(settings.groups),
          owners(settings.groups),
          unowned_since(settings.groups, 0) {
        for (std::uint32_t g = 0; g < settings.groups; ++g) words[g].store(0);
    }

    etcd_client& etcd;
    const cluster_settings settings;
    const node_address self;
    const ownership_hooks hooks;
    const milliseconds handback_after;

    // Read by the request path.
    std::unique_ptr<std::atomic<std::uint64_t>[]> words;
    std::atomic<boot_ns> lease_deadline{0};

    mutable std::mutex mutex;  // everything below; never taken by check() or may_reply()
    std::int64_t lease_id = 0;
    std::uint64_t lease_generation = 0;
    bool registered = false;
    boot_ns deadline = 0;
    std::int64_t seen_revision = 0;
    catalog_lag lag;
    bool keepalive_failing = false;
    std::vector<group_state> groups;
    std::uint64_t fences = 0;
    std::uint64_t acquisitions = 0;
    std::uint64_t releases = 0;
    // The last poll of etcd, for status() and the campaign.
    std::vector<std::string> owners;
    std::vector<node_address> members;
    bool draining = false;

    // Campaign thread only.
    std::vector<boot_ns> unowned_since;
    std::map<std::string, member_seen> member_ages;

    std::atomic<bool> running{false};
    std::atomic<bool> rewatch{false};
    std::unique_ptr<common::periodic_worker> keepalive_worker;
    std::unique_ptr<common::periodic_worker> campaign_worker;
    std::vector<std::unique_ptr<etcd_watch>> watches;  // campaign thread (or stop, after it)
    std::mutex wake_mutex;  // the watches' threads wake the campaign only while it exists
    common::periodic_worker* wake_target = nullptr;

    // Never called under `mutex`: the hook may well ask for status().
    void log(const std::string& line) const {
        if (hooks.log) hooks.log("ownership " + self.id + ": " + line);
    }
    std::int64_t applied() const { return hooks.applied_revision ? hooks.applied_revision() : 0; }
    std::string owner_key(std::uint32_t g) const { return layout::owner_key(g); }

    // Rewrites every group's word from the state: O1 (deadline - F) and O4 (lag bound) in one
    // admit-until. Called whenever any input changes; the time passing is check()'s part.
    void publish_locked(boot_ns now) {
        const boot_ns until =
            admit_until(deadline, settings.fence, lag.bound(settings.catalog_lag_stop));
        for (std::uint32_t g = 0; g < settings.groups; ++g) {
            group_state& state = groups[g];
            std::uint64_t word = group_word::not_owned();
            bool open = false;
            if (state.held) {
                open = state.ready && !state.releasing && now < until;
                word = group_word::owned(state.ready && !state.releasing ? until : 0);
            }
            // A fence struck if the last window ran out before now (check() stopped admitting
            // by itself) or if this publish closes it; a planned release is not a fence.
            if (state.open_until != 0 && !state.releasing && (now >= state.open_until || !open))
                ++fences;
            state.open_until = open ? until : 0;
            words[g].store(word, std::memory_order_release);
        }
        lease_deadline.store(deadline, std::memory_order_release);
    }

    // ---- lease ----

    std::int64_t ttl_seconds() const {
        return static_cast<std::int64_t>(std::ceil(settings.lease_ttl.count() / 1000.0));
    }
    boot_ns deadline_after(boot_ns sent, std::int64_t granted_s) const {
        // The shorter of what we asked and what etcd says: never later than etcd's expiry.
        const milliseconds granted{granted_s * 1000};
        return sent + to_ns(std::min(settings.lease_ttl,
                                     granted > milliseconds(0) ? granted : settings.lease_ttl));
    }

    std::string member_json() const {
        const auto wall = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch());
        return json{
            {"public", self.public_url}, {"admin", self.admin_url}, {"started_at", wall.count()}}
            .dump();
    }

    // Grants a lease and registers members/<id> under it.
    bool establish() {
        const boot_ns sent = boot_now();
        auto grant = etcd.lease_grant(ttl_seconds());
        if (!grant) {
            log("lease grant failed: " + grant.error().message);
            return false;
        }
        {
            std::lock_guard lock(mutex);
            lease_id = grant->id;
            ++lease_generation;
            registered = false;
            deadline = deadline_after(sent, grant->ttl_s);
            publish_locked(boot_now());
        }
        return register_member(grant->id);
    }

    bool register_member(std::int64_t lease) {
        auto put = etcd.put(layout::member_key(self.id), member_json(), lease);
        if (!put) {
            log("registering the member failed: " + put.error().message);
            return false;
        }
        std::lock_guard lock(mutex);
        if (lease_id == lease) registered = true;
        return true;
    }

    void lose_lease_locked(boot_ns now) {
        lease_id = 0;
        ++lease_generation;
        registered = false;
        deadline = 0;
        for (group_state& state : groups) {
            if (state.open_until != 0) ++fences;
            state = group_state{};
        }
        publish_locked(now);
    }

    milliseconds keepalive_tick() {
        std::int64_t lease = 0;
        bool need_register = false;
        {
            std::lock_guard lock(mutex);
            lease = lease_id;
            need_register = !registered;
        }
        // The campaign notices a new lease on its next round (or the members/ watch event).
        if (lease == 0) {
            establish();
            return settings.keepalive;
        }
        const boot_ns sent = boot_now();
        auto reply = etcd.lease_keepalive(lease);
        const std::int64_t applied_now = applied();
        bool lost = false;
        std::string note;
        {
            std::lock_guard lock(mutex);
            if (lease != lease_id) return settings.keepalive;
            const boot_ns now = boot_now();
            if (reply) {
                deadline = std::max(deadline, deadline_after(sent, reply->ttl_s));
                seen_revision = std::max(seen_revision, reply->revision);
                if (hooks.applied_revision) lag.saw(reply->revision, now);
                if (keepalive_failing) note = "keepalive answered again";
                keepalive_failing = false;
            } else if (reply.error().code == etcd_errc::lease_not_found) {
                note = "lease lost: every group dropped; a new lease and a fresh campaign";
                lose_lease_locked(now);
                lost = true;
            } else if (!keepalive_failing) {
                keepalive_failing = true;
                note = "keepalive failed: " + reply.error().message;
            }
            if (hooks.applied_revision) lag.applied(applied_now);
            publish_locked(now);
        }
        if (!note.empty()) log(note);
        if (lost) {
            establish();
        } else if (need_register) {
            register_member(lease);
        }
        return settings.keepalive;
    }

    // ---- campaign ----

    struct poll_result {
        std::vector<std::optional<key_value>> owners;
        std::vector<node_address> members;
        std::map<std::string, std::int64_t> member_revisions;
        std::vector<std::string> drained;
    };

    std::optional<poll_result> poll() {
        auto owner_kvs = etcd.get_prefix(std::string(layout::owners_prefix));
        auto member_kvs = etcd.get_prefix(std::string(layout::members_prefix));
        auto drain_kvs = etcd.get_prefix(std::string(layout::drains_prefix));
        if (!owner_kvs || !member_kvs || !drain_kvs) return std::nullopt;
        poll_result result;
        result.owners.resize(settings.groups);
        for (const key_value& kv : owner_kvs->kvs) {
            const auto g = layout::group_of_owner_key(kv.key);
            if (g && *g < settings.groups) result.owners[*g] = kv;
        }
        for (const key_value& kv : member_kvs->kvs) {
            node_address member;
            member.id = kv.key.substr(layout::members_prefix.size());
            if (!layout::is_valid_node_id(member.id)) continue;
            const json doc = json::parse(kv.value, nullptr, false);
            if (doc.is_object()) {
                member.public_url = doc.value("public", "");
                member.admin_url = doc.value("admin", "");
            }
            result.member_revisions[member.id] = kv.create_revision;
            result.members.push_back(std::move(member));
        }
        for (const key_value& kv : drain_kvs->kvs)
            result.drained.push_back(kv.key.substr(layout::drains_prefix.size()));
        return result;
    }

    // The highest-ranked live, non-drained member for g ("" when there is none).
    static std::string top_member(const std::vector<std::string>& candidates, std::uint32_t g) {
        std::string best;
        std::uint64_t best_rank = 0;
        for (const std::string& id : candidates) {
            const std::uint64_t rank = hrw_rank(id, g);
            if (best.empty() || rank > best_rank || (rank == best_rank && id < best)) {
                best = id;
                best_rank = rank;
            }
        }
        return best;
    }

    // Acquire: create owners/<g> only if absent, under our lease; admission waits for ready.
    bool acquire(std::uint32_t g, std::int64_t lease, std::uint64_t generation) {
        auto txn = etcd.txn({txn_compare::absent(owner_key(g))},
                            {txn_op::put(owner_key(g), self.id, lease)});
        if (!txn) {
            // A timeout leaves the outcome unknown: the next poll adopts the key if it is ours.
            log("acquiring group " + std::to_string(g) + " failed: " + txn.error().message);
            return false;
        }
        if (!txn->succeeded) return false;
        std::lock_guard lock(mutex);
        if (generation != lease_generation) return false;  // the key went with the old lease
        groups[g] = group_state{};
        groups[g].held = true;
        groups[g].acquired_revision = txn->revision;
        owners[g] = self.id;
        ++acquisitions;
        publish_locked(boot_now());
        return true;
    }

    // Opens a held group once the catalog holds its acquiring revision (so every change
    // committed before this node became owner) and before_admitting returned.
    void make_ready(std::uint32_t g, boot_ns wait_until_ns) {
        std::int64_t revision = 0;
        {
            std::lock_guard lock(mutex);
            const group_state& state = groups[g];
            if (!state.held || state.ready || state.releasing) return;
            revision = state.acquired_revision;
        }
        if (hooks.applied_revision) {
            while (applied() < revision) {
                if (boot_now() >= wait_until_ns || !running) return;
                std::this_thread::sleep_for(milliseconds(5));
            }
        }
        if (hooks.before_admitting) hooks.before_admitting(g);
        std::lock_guard lock(mutex);
        group_state& state = groups[g];
        if (!state.held || state.releasing || state.acquired_revision != revision) return;
        state.ready = true;
        publish_locked(boot_now());
    }

    // O2: stop admitting, wait F, then delete owners/<g> if it still names us. False when the
    // delete did not go through (the group stays fenced; the next round tries again).
    bool release(std::uint32_t g) {
        boot_ns started = 0;
        {
            std::lock_guard lock(mutex);
            group_state& state = groups[g];
            if (!state.held) return true;
            if (!state.releasing) {
                state.releasing = true;
                publish_locked(boot_now());
                // Read after the store: every admit decided before it was decided before this.
                state.release_started = boot_now();
            }
            started = state.release_started;
        }
        wait_until(started + to_ns(settings.fence));
        return erase_owner(g);
    }

    bool erase_owner(std::uint32_t g) {
        auto txn =
            etcd.txn({txn_compare::value_is(owner_key(g), self.id)}, {txn_op::erase(owner_key(g))});
        if (!txn) {
            log("releasing group " + std::to_string(g) + " failed: " + txn.error().message);
            return false;
        }
        std::lock_guard lock(mutex);
        groups[g] = group_state{};
        owners[g].clear();
        if (txn->succeeded) ++releases;
        publish_locked(boot_now());
        return true;
    }

    static void wait_until(boot_ns until) {
        const boot_ns left = until - boot_now();
        if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
    }

    void start_watches() {
        watches.clear();
        for (const std::string_view prefix :
             {layout::owners_prefix, layout::members_prefix, layout::drains_prefix}) {
            watch_handler handler;
            handler.on_update = [this](const watch_update&) {
                std::lock_guard lock(wake_mutex);
                if (wake_target) wake_target->wake();
            };
            handler.on_error = [this](const etcd_error& error) {
                if (error.code == etcd_errc::compacted || error.code == etcd_errc::handler_failed)
                    rewatch = true;
            };
            watches.push_back(etcd.watch_prefix(std::string(prefix), 0, std::move(handler)));
        }
    }

    milliseconds campaign_round() {
        if (!running) return settings.keepalive;
        if (rewatch.exchange(false)) start_watches();
        std::int64_t lease = 0;
        std::uint64_t generation = 0;
        {
            std::lock_guard lock(mutex);
            lease = lease_id;
            generation = lease_generation;
        }
        if (lease == 0) return settings.keepalive;
        auto view = poll();
        if (!view) return settings.keepalive;
        const boot_ns now = boot_now();

        // Who may be ranked: live members that are not drained.
        std::vector<std::string> candidates;
        bool self_live = false;
        for (const node_address& member : view->members) {
            if (member.id == self.id) self_live = true;
            if (std::find(view->drained.begin(), view->drained.end(), member.id) ==
                view->drained.end())
                candidates.push_back(member.id);
        }
        const bool drained =
            std::find(view->drained.begin(), view->drained.end(), self.id) != view->drained.end();
        std::map<std::string, member_seen> ages;
        for (const auto& [id, revision] : view->member_revisions) {
            const auto known = member_ages.find(id);
            ages[id] = known != member_ages.end() && known->second.create_revision == revision
                           ? known->second
                           : member_seen{revision, now};
        }
        member_ages = std::move(ages);

        // Reconcile with etcd: drop what is no longer ours, adopt what a timed-out txn made.
        const boot_ns orphaned_after = to_ns(settings.keepalive + settings.lease_ttl);
        bool recently_unowned = false;  // a group released lately and not yet taken
        std::vector<std::uint32_t> pending_ready;
        std::vector<std::uint32_t> retry_release;
        std::vector<std::uint32_t> lost_groups;
        {
            std::lock_guard lock(mutex);
            if (generation != lease_generation) return milliseconds(0);
            for (std::uint32_t g = 0; g < settings.groups; ++g) {
                const auto& kv = view->owners[g];
                const bool ours = kv && kv->value == self.id && kv->lease == lease;
                group_state& state = groups[g];
                if (state.held && !ours) {
                    lost_groups.push_back(g);
                    if (state.open_until != 0) ++fences;
                    state = group_state{};
                } else if (!state.held && ours) {
                    state = group_state{};
                    state.held = true;
                    state.acquired_revision = kv->mod_revision;
                    ++acquisitions;
                }
                if (state.held && !state.ready && !state.releasing) pending_ready.push_back(g);
                if (state.held && state.releasing) retry_release.push_back(g);
                owners[g] = kv ? kv->value : std::string();
                if (!kv) {
                    if (unowned_since[g] == 0) unowned_since[g] = now;
                    if (now - unowned_since[g] <= orphaned_after) recently_unowned = true;
                } else {
                    unowned_since[g] = 0;
                }
            }
            members = view->members;
            draining = drained;
            publish_locked(now);
        }
        for (const std::uint32_t g : lost_groups)
            log("group " + std::to_string(g) + " is no longer ours in etcd");
        for (const std::uint32_t g : retry_release) release(g);
        const boot_ns ready_by = now + to_ns(settings.keepalive);
        for (const std::uint32_t g : pending_ready) make_ready(g, ready_by);

        // Planned moves go one group at a time: the next only once the last one found an
        // owner (or nobody can take it, or it stayed unowned past the orphan delay).
        const bool settled = !recently_unowned || candidates.empty();
        if (drained) {
            // Each through O2; none taken.
            if (!settled) return settings.keepalive;
            for (std::uint32_t g = 0; g < settings.groups; ++g) {
                if (!held(g)) continue;
                log("drained: releasing group " + std::to_string(g));
                release(g);
                return settings.keepalive;
            }
            return settings.keepalive;
        }

        if (settled) {
            for (std::uint32_t g = 0; g < settings.groups; ++g) {
                if (!held(g)) continue;
                const std::string top = top_member(candidates, g);
                if (top.empty() || top == self.id) continue;
                const auto age = member_ages.find(top);
                if (age == member_ages.end() || now - age->second.since < to_ns(handback_after))
                    continue;
                log("handing group " + std::to_string(g) + " back to " + top);
                release(g);
                return settings.keepalive;
            }
        }

        if (!self_live) return settings.keepalive;  // registered first, then campaign
        std::vector<std::uint32_t> acquired;
        for (std::uint32_t g = 0; g < settings.groups; ++g) {
            if (view->owners[g]) continue;
            const bool top = top_member(candidates, g) == self.id;
            const bool orphaned = unowned_since[g] != 0 && now - unowned_since[g] > orphaned_after;
            if (!top && !orphaned) continue;
            if (acquire(g, lease, generation)) acquired.push_back(g);
        }
        // One shared wait for the catalog; a group still behind opens on a later round.
        const boot_ns acquired_ready_by = boot_now() + to_ns(std::chrono::seconds(1));
        for (const std::uint32_t g : acquired) make_ready(g, acquired_ready_by);
        return settings.keepalive;
    }

    bool held(std::uint32_t g) const {
        std::lock_guard lock(mutex);
        return groups[g].held;
    }
};

ownership::ownership(etcd_client& etcd, cluster_settings settings, node_address self,
                     ownership_hooks hooks, std::chrono::milliseconds handback_after)
    : etcd_(etcd), settings_(settings), self_(std::move(self)) {
    validate(settings_);
    if (!layout::is_valid_node_id(self_.id))
        throw std::invalid_argument("invalid node id '" + self_.id + "'");
    impl_ = std::make_unique<impl>(etcd_, settings_, self_, std::move(hooks), handback_after);
}

ownership::~ownership() {
    stop();
}

void ownership::start() {
    if (impl_->running.exchange(true)) return;
    if (!impl_->establish()) {
        impl_->running = false;
        throw std::runtime_error("cluster: cannot take a lease and register node '" + self_.id +
                                 "' in etcd");
    }
    impl_->keepalive_worker =
        std::make_unique<common::periodic_worker>([this] { return impl_->keepalive_tick(); });
    impl_->rewatch = true;  // the campaign's first round starts the watches
    impl_->campaign_worker =
        std::make_unique<common::periodic_worker>([this] { return impl_->campaign_round(); });
    std::lock_guard lock(impl_->wake_mutex);
    impl_->wake_target = impl_->campaign_worker.get();
}

void ownership::stop() {
    impl& me = *impl_;
    if (!me.running.exchange(false)) return;
    {
        std::lock_guard lock(me.wake_mutex);
        me.wake_target = nullptr;
    }
    me.campaign_worker.reset();
    me.watches.clear();
    // O2 for every group at once: one shared wait of F, then the deletes.
    std::vector<std::uint32_t> held;
    boot_ns latest = 0;
    {
        std::lock_guard lock(me.mutex);
        for (std::uint32_t g = 0; g < settings_.groups; ++g)
            if (me.groups[g].held && !me.groups[g].releasing) me.groups[g].releasing = true;
        me.publish_locked(boot_now());
        const boot_ns now = boot_now();
        for (std::uint32_t g = 0; g < settings_.groups; ++g) {
            group_state& state = me.groups[g];
            if (!state.held) continue;
            if (state.release_started == 0) state.release_started = now;
            latest = std::max(latest, state.release_started);
            held.push_back(g);
        }
    }
    me.wait_until(latest + to_ns(settings_.fence));
    for (const std::uint32_t g : held) me.erase_owner(g);
    me.keepalive_worker.reset();
    std::int64_t lease = 0;
    {
        std::lock_guard lock(me.mutex);
        lease = me.lease_id;
        me.lease_id = 0;
        ++me.lease_generation;
        me.deadline = 0;
        for (group_state& state : me.groups) state = group_state{};
        me.publish_locked(boot_now());
    }
    // Revoking also removes members/<id> and any owners/ key a failed delete left behind.
    if (lease != 0) me.etcd.lease_revoke(lease);
}

gate ownership::check(std::uint32_t group, boot_ns now) const noexcept {
    if (group >= settings_.groups) return gate::not_owner;
    return group_word::at(impl_->words[group].load(std::memory_order_acquire), now);
}

bool ownership::may_reply(std::uint32_t, boot_ns decided) const noexcept {
    return reply_allowed(decided, boot_now(), impl_->lease_deadline.load(std::memory_order_acquire),
                         settings_.fence, settings_.reply_deadline);
}

ownership_status ownership::status() const {
    const std::int64_t applied = impl_->applied();
    ownership_status status;
    status.node = self_.id;
    status.applied_revision = applied;
    const boot_ns now = boot_now();
    std::lock_guard lock(impl_->mutex);
    status.lease_held = impl_->lease_id != 0 && now < impl_->deadline;
    status.lease_remaining_s =
        impl_->lease_id != 0 ? std::max<double>(0, (impl_->deadline - now) / 1e9) : 0;
    status.seen_revision = impl_->seen_revision;
    status.draining = impl_->draining;
    for (std::uint32_t g = 0; g < settings_.groups; ++g)
        status.groups.push_back({g, impl_->owners[g], check(g, now) == gate::admit});
    status.members = impl_->members;
    status.fences = impl_->fences;
    status.acquisitions = impl_->acquisitions;
    status.releases = impl_->releases;
    return status;
}

}  // namespace rl::cluster
