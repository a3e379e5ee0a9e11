#include "cli/cluster_command.hpp"

#include "cli/cluster_admin_commands.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

#include "admin/catalog.hpp"
#include "cli/admin_client.hpp"
#include "cluster/catalog_records.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/layout.hpp"
#include "cluster/ownership.hpp"
#include "common/time_text.hpp"
#include "storage/data_dir.hpp"

namespace rl::cli {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace layout = cluster::layout;

constexpr std::size_t records_per_txn = 100;  // etcd's --max-txn-ops is 128
constexpr std::size_t page = 1000;

struct init_arguments {
    std::string etcd;
    std::uint32_t groups = layout::default_groups;
    std::string lease_ttl = "3s";
    std::string fence = "1250ms";
    std::string reply_deadline = "250ms";
    std::uint32_t default_limit = cluster::cluster_settings{}.default_limit;
    std::string from_data_dir;
    bool force = false;
};

// "250ms", or what parse_duration reads ("3s", "1m").
std::optional<std::chrono::milliseconds> parse_millis(std::string_view text) {
    if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
        const auto digits = text.substr(0, text.size() - 2);
        if (digits.size() > 9) return std::nullopt;
        std::int64_t n = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + (c - '0');
        }
        return std::chrono::milliseconds(n);
    }
    if (auto seconds = common::parse_duration(text)) return *seconds;
    return std::nullopt;
}

const CLI::Validator millis_text(
    [](std::string& text) {
        return parse_millis(text) ? std::string() : "use a duration like 250ms, 3s or 1m";
    },
    "DURATION");

cluster::etcd_options etcd_options_of(const std::string& urls) {
    cluster::etcd_options options;
    std::size_t from = 0;
    while (from <= urls.size()) {
        const auto comma = std::min(urls.find(',', from), urls.size());
        if (comma > from) options.endpoints.push_back(urls.substr(from, comma - from));
        from = comma + 1;
    }
    if (options.endpoints.empty()) throw cli_error("--etcd: give at least one URL");
    return options;
}

cluster::cluster_settings settings_of(const init_arguments& a) {
    cluster::cluster_settings s;
    s.groups = a.groups;
    s.lease_ttl = *parse_millis(a.lease_ttl);
    s.fence = *parse_millis(a.fence);
    s.reply_deadline = *parse_millis(a.reply_deadline);
    s.default_limit = a.default_limit;
    if (s.lease_ttl % 1s != 0ms) throw cli_error("--lease-ttl: whole seconds (etcd leases are)");
    try {
        cluster::validate(s);  // the rules every node checks the config against
    } catch (const std::invalid_argument& e) {
        throw cli_error(e.what());
    }
    return s;
}

[[noreturn]] void etcd_failed(const cluster::etcd_error& error, std::string_view doing) {
    throw cli_error(fmt::format("etcd: {}: {}", doing, error.message));
}

// Writes /rl/v1/config; false when the very same one was there already.
bool write_config(cluster::etcd_client& etcd, const std::string& config, bool force) {
    const std::string key(layout::config_key);
    auto created = etcd.txn({cluster::txn_compare::absent(key)},
                            {cluster::txn_op::put(key, config)}, {cluster::txn_op::get(key)});
    if (!created) etcd_failed(created.error(), "write the config");
    if (created->succeeded) return true;
    const std::string existing = created->kvs.empty() ? "" : created->kvs.front().value;
    if (existing == config) return false;
    if (!force)
        throw cli_error(fmt::format(
            "{} already holds {}; rerun with --force to replace it (changing --groups moves "
            "users between groups: stop every node first)",
            layout::config_key, existing));
    if (auto put = etcd.put(key, config); !put) etcd_failed(put.error(), "write the config");
    return true;
}

// Shown on stderr as records go, on one line when it is a terminal.
class progress {
public:
    void show(const std::string& text) {
        if (terminal_) {
            std::cerr << "\r\033[K" << text << std::flush;
        } else if (++lines_ % 10 == 1) {
            std::cerr << text << '\n';
        }
    }
    void done(const std::string& text) {
        if (terminal_) std::cerr << "\r\033[K";
        std::cerr << text << '\n';
    }

private:
    const bool terminal_ = ::isatty(STDERR_FILENO) == 1;
    std::size_t lines_ = 0;
};

// Copies one kind of record, a page at a time, in transactions of at most 100 puts; records
// etcd already holds stay as they are (a re-run, or a change made in the cluster since).
class catalog_copy {
public:
    catalog_copy(cluster::etcd_client& etcd, progress& shown) : etcd_(etcd), shown_(shown) {}

    // The keys etcd holds under `prefix`, keys only, paged.
    void learn(std::string_view prefix) {
        std::int64_t at = 0;
        const auto failed = cluster::for_each_in_prefix(
            etcd_, prefix, at, true, [&](const cluster::key_value& kv) { present_.insert(kv.key); },
            static_cast<std::int64_t>(page));
        if (failed) etcd_failed(*failed, "read the catalog");
    }

    // Records of one kind follow, named so on stderr.
    void section(const char* kind) { kind_ = kind; }

    template <typename Record>
    void add(const Record& record) {
        cluster::txn_op op = cluster::put_of(record);
        if (present_.count(op.key)) {
            ++kept_;
        } else {
            pending_.push_back(std::move(op));
            if (pending_.size() == records_per_txn) flush();
        }
    }

    // The rest of this kind, and its line on stderr; the counts as JSON.
    json finish() {
        flush();
        shown_.done(fmt::format("{}: {} copied, {} already in etcd", kind_, copied_, kept_));
        json counts = {{"copied", copied_}, {"already_present", kept_}};
        copied_ = kept_ = 0;
        return counts;
    }

private:
    void flush() {
        if (pending_.empty()) return;
        // Only if none of them appeared meanwhile: never overwrite a record written elsewhere.
        std::vector<cluster::txn_compare> absent;
        for (const auto& op : pending_) absent.push_back(cluster::txn_compare::absent(op.key));
        auto done = etcd_.txn(absent, pending_);
        if (!done) etcd_failed(done.error(), "copy the catalog");
        if (!done->succeeded)
            throw cli_error(
                "a record appeared in etcd while copying (is a node writing?); run "
                "the same command again to copy the rest");
        copied_ += pending_.size();
        pending_.clear();
        shown_.show(fmt::format("{}: {} copied, {} already in etcd", kind_, copied_, kept_));
    }

    cluster::etcd_client& etcd_;
    progress& shown_;
    std::set<std::string> present_;
    std::vector<cluster::txn_op> pending_;
    std::size_t copied_ = 0, kept_ = 0;
    const char* kind_ = "";
};

json copy_catalog(cluster::etcd_client& etcd, const std::string& directory) {
    const auto data = storage::data_dir::open(directory);
    const auto& store = data->catalog();
    progress shown;
    catalog_copy copy(etcd, shown);
    for (const auto prefix : {layout::plans_prefix, layout::users_prefix, layout::keys_prefix})
        copy.learn(prefix);
    json copied;
    // Plans before the users who follow them, users before their keys: a node watching meanwhile
    // never sees a reference to something it does not hold.
    std::string after;
    copy.section("plans");
    for (auto plans = store.list_plans({}, page); !plans.empty();
         plans = store.list_plans(after, page)) {
        for (const auto& plan : plans) copy.add(plan);
        after = plans.back().name;
    }
    copied["plans"] = copy.finish();
    after.clear();
    copy.section("users");
    for (auto users = store.list_users({}, page); !users.empty();
         users = store.list_users(after, page)) {
        for (const auto& user : users) copy.add(user);
        after = users.back().name;
    }
    copied["users"] = copy.finish();
    copy.section("keys");
    for (auto keys = store.keys_after(nullptr, page); !keys.empty();) {
        for (const auto& key : keys) copy.add(key);
        const auto last = keys.back().hash;
        keys = store.keys_after(&last, page);
    }
    copied["keys"] = copy.finish();
    return copied;
}

json cluster_init(const init_arguments& a) {
    const auto settings = settings_of(a);
    // Opening creates a missing directory: a typo would copy nothing, and say so quietly.
    std::error_code error;
    if (!a.from_data_dir.empty() && !std::filesystem::is_directory(a.from_data_dir, error))
        throw cli_error(fmt::format("--from-data-dir: no data directory at {}", a.from_data_dir));
    cluster::etcd_client etcd(etcd_options_of(a.etcd));
    const std::string config = cluster::to_json(settings);
    json result = {{"config", json::parse(config)}};
    result["config_written"] = write_config(etcd, config, a.force);
    if (!a.from_data_dir.empty()) result["copied"] = copy_catalog(etcd, a.from_data_dir);
    return result;
}

std::string init_text(const json& result) {
    std::string text =
        result.at("config_written").get<bool>()
            ? fmt::format("wrote {}: {}\n", layout::config_key, result.at("config").dump())
            : fmt::format("{} is already this config\n", layout::config_key);
    if (const auto copied = result.find("copied"); copied != result.end())
        for (const char* kind : {"plans", "users", "keys"})
            text += fmt::format("{}: {} copied, {} already in etcd\n", kind,
                                copied->at(kind).at("copied").get<std::size_t>(),
                                copied->at(kind).at("already_present").get<std::size_t>());
    return text;
}

}  // namespace

void add_cluster_commands(CLI::App& app, std::function<void(session&)>& chosen) {
    auto a = std::make_shared<init_arguments>();
    auto* cluster = app.add_subcommand(
        "cluster", "Cluster mode: set up, inspect, and move groups between nodes");
    add_cluster_admin_commands(
        *cluster, [&chosen](std::function<void(session&)> picked) { chosen = std::move(picked); });
    auto* init = cluster->add_subcommand(
        "init",
        "Write the cluster's config to etcd, once; with --from-data-dir, copy a stopped "
        "single node's plans, users and keys in (a repeat copies only what is missing)");
    init->add_option("--etcd", a->etcd, "etcd client URLs, comma-separated")->required();
    init->add_option("--groups", a->groups, "Ownership groups (fixed from now on)")
        ->check(CLI::Range(std::uint32_t{1}, layout::max_groups))
        ->capture_default_str();
    init->add_option("--lease-ttl", a->lease_ttl, "Each node's etcd lease")
        ->check(millis_text)
        ->capture_default_str();
    init->add_option("--fence", a->fence,
                     "A node stops admitting this long before its lease ends (0: fast mode)")
        ->check(millis_text)
        ->capture_default_str();
    init->add_option("--reply-deadline", a->reply_deadline,
                     "No 200 is sent later than this after its decision")
        ->check(millis_text)
        ->capture_default_str();
    init->add_option("--default-limit", a->default_limit,
                     "The built-in plan 'default': requests per second")
        ->check(CLI::Range(std::uint32_t{1}, admin::max_limit))
        ->capture_default_str();
    init->add_option("--from-data-dir", a->from_data_dir,
                     "A stopped single node's data directory to copy the catalog from");
    init->add_flag("--force", a->force, "Replace a different config already in etcd");
    init->callback([a, &chosen] {
        try {
            settings_of(*a);  // a bad combination is bad usage, refused before any etcd call
        } catch (const cli_error& e) {
            throw CLI::ValidationError(e.what());
        }
        chosen = [a](session& s) {
            const json result = cluster_init(*a);
            s.print(result, [&] { return init_text(result); });
        };
    });
}

}  // namespace rl::cli
