#include "cli/commands.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>

#include "admin/catalog.hpp"
#include "admin/paging.hpp"
#include "cli/admin_client.hpp"
#include "cli/cluster_command.hpp"
#include "cli/import_command.hpp"
#include "cli/manual.hpp"
#include "cli/output.hpp"
#include "cli/records_command.hpp"
#include "cli/session.hpp"
#include "common/api_key.hpp"
#include "common/time_text.hpp"
#include "common/version.hpp"
#include "limiter/policy.hpp"

namespace rl::cli {

namespace {

using nlohmann::json;

// Bad usage found after parsing; exit status 2 like CLI11's own errors.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

using action = std::function<void(session&)>;

// Everything a command line can hold; each command reads the fields it declared.
struct arguments {
    std::string server, token, data_dir;
    bool json_output = false;
    bool csv_output = false;
    std::string name, user, key, key_id, label, expires, file, since, until, step, output;
    std::vector<std::string> limits;  // each N (= 1s:N) or WINDOW:Q
    std::string plan;
    bool shadow = false, no_shadow = false;
    bool disable = false, enable = false;
    bool chart = false;
    bool prints_csv = false;  // set by the commands that can
    std::uint32_t top_limit = 10;
    std::string by;
    std::size_t page_size = admin::default_page_size;
};

void add_page_size(CLI::App* command, arguments& a) {
    command->add_option("--page-size", a.page_size, "Items fetched per request")
        ->check(CLI::Range(std::size_t{1}, admin::max_page_size))
        ->capture_default_str();
}

std::string users_path(const std::string& name) {
    return "/v1/users/" + url_encode(name);
}

std::string with_query(std::string path,
                       const std::vector<std::pair<const char*, std::string>>& params) {
    char separator = '?';
    for (const auto& [name, value] : params) {
        if (value.empty()) continue;
        path += separator + std::string(name) + '=' + url_encode(value);
        separator = '&';
    }
    return path;
}

std::string plans_path(const std::string& name) {
    return "/v1/plans/" + url_encode(name);
}

std::string one_user(const json& user) {
    return format_users(json::array({user}));
}

// Validators give a usage error (exit 2) before anything is sent.
CLI::Validator checked(const char* kind, std::function<bool(const std::string&)> ok,
                       const char* why) {
    return CLI::Validator(
        [ok = std::move(ok), why](std::string& text) { return ok(text) ? std::string() : why; },
        kind);
}

const CLI::Validator key_id_text = checked(
    "KEY_ID", [](const std::string& t) { return common::parse_key_id(t).has_value(); },
    "a key id is 16 lowercase hex digits");
const CLI::Validator expiry_text = checked(
    "30d|RFC3339",
    [](const std::string& t) { return common::parse_duration(t) || common::parse_rfc3339(t); },
    "use a duration like 30d or an RFC 3339 time");
const CLI::Validator time_text = checked(
    "TIME",
    [](const std::string& t) {
        return common::parse_time_point(t, common::wall_now()).has_value();
    },
    "use 'now', a duration before now like 1h, or an RFC 3339 time");
const CLI::Validator step_text = checked(
    "1s|1m|1h|1d",
    [](const std::string& t) {
        const auto d = common::parse_duration(t);
        return d && d->count() > 0;
    },
    "use a duration like 1s, 1m, 1h or 1d");

// The limiter's own message: it says what is wrong with the limit and shows the grammar.
const CLI::Validator limit_text(
    [](std::string& text) {
        auto parsed = limiter::parse_limit(text);
        return parsed ? std::string() : parsed.error;
    },
    "N|WINDOW:Q");

CLI::Option* add_limits(CLI::App* command, arguments& a) {
    return command
        ->add_option("--limit", a.limits,
                     "A limit: N requests per sliding second, or WINDOW:Q (1s:10, 1m:300, "
                     "day:10000, month:100000); repeat for several")
        ->check(limit_text);
}

// The --limit options as the API's `limits` array, checked as a whole (no window twice, at
// most 8) before anything is sent.
json limits_body(const std::vector<std::string>& limits) {
    auto policy = admin::policy_of(limits);
    if (!policy) throw usage_error("--limit: " + policy.error);
    json out = json::array();
    for (const auto& l : policy.value->limits) out.push_back(limiter::to_string(l));
    return out;
}

// A user's terms from --plan or --limit, into the request body.
void add_terms(json& body, const arguments& a) {
    if (!a.plan.empty()) body["plan"] = a.plan;
    if (!a.limits.empty()) body["limits"] = limits_body(a.limits);
}

void add_user_commands(CLI::App& app, arguments& a, action& chosen) {
    auto* user = app.add_subcommand("user", "Create, list, change and delete users");

    auto* create = user->add_subcommand("create", "Create a user");
    create->add_option("NAME", a.name, "1-64 of A-Z a-z 0-9 . _ @ -")->required();
    auto* create_limit = add_limits(create, a);
    create->add_option("--plan", a.plan, "Follow this plan (default: the built-in 'default')")
        ->excludes(create_limit);
    create->callback([&] {
        chosen = [&](session& s) {
            json body{{"name", a.name}};
            add_terms(body, a);
            const json created = s.request("POST", "/v1/users", body);
            s.print(created, [&] { return one_user(created); });
        };
    });

    auto* list = user->add_subcommand("list", "List all users, a page at a time");
    add_page_size(list, a);
    list->callback([&] {
        chosen = [&](session& s) {
            s.print_pages("/v1/users", "users", a.page_size, [](const json& users, paged_table& t) {
                return format_users(users, &t);
            });
        };
    });

    auto* show = user->add_subcommand("show", "Show one user");
    show->add_option("NAME", a.name)->required();
    show->callback([&] {
        chosen = [&](session& s) {
            const json found = s.request("GET", users_path(a.name));
            s.print(found, [&] { return one_user(found); });
        };
    });

    auto* update =
        user->add_subcommand("update", "Change a user's plan or limits, or enable/disable them");
    update->add_option("NAME", a.name)->required();
    auto* update_limit = add_limits(update, a);
    update->add_option("--plan", a.plan, "Follow this plan instead")->excludes(update_limit);
    auto* disable =
        update->add_flag("--disable", a.disable, "Reject all of the user's requests (403)");
    auto* enable = update->add_flag("--enable", a.enable, "Admit the user's requests again");
    disable->excludes(enable);
    update->callback([&] {
        chosen = [&](session& s) {
            json body = json::object();
            add_terms(body, a);
            if (a.disable || a.enable) body["disabled"] = a.disable;
            if (body.empty())
                throw usage_error("user update: give --plan, --limit, --disable or --enable");
            const json updated = s.request("PATCH", users_path(a.name), body);
            s.print(updated, [&] { return one_user(updated); });
        };
    });

    auto* remove = user->add_subcommand("delete", "Delete a user and all of their keys");
    remove->add_option("NAME", a.name)->required();
    remove->callback([&] {
        chosen = [&](session& s) {
            const json deleted = s.request("DELETE", users_path(a.name));
            s.print(deleted,
                    [&] { return fmt::format("deleted user {} and all of their keys\n", a.name); });
        };
    });
}

void add_plan_commands(CLI::App& app, arguments& a, action& chosen) {
    auto* plan = app.add_subcommand(
        "plan", "Create, list, change and delete plans (named policies that users follow)");

    auto* create = plan->add_subcommand("create", "Create a plan");
    create->add_option("NAME", a.name, "1-64 of A-Z a-z 0-9 . _ @ -")->required();
    add_limits(create, a)->required();
    create->add_flag("--shadow", a.shadow,
                     "Decide and count, but never limit (answers say what would have happened)");
    create->callback([&] {
        chosen = [&](session& s) {
            json body{{"name", a.name}, {"limits", limits_body(a.limits)}, {"shadow", a.shadow}};
            const json created = s.request("POST", "/v1/plans", body);
            s.print(created, [&] { return format_plan(created); });
        };
    });

    auto* update = plan->add_subcommand(
        "update", "Change a plan's limits or shadow mode; its users follow at once");
    update->add_option("NAME", a.name)->required();
    add_limits(update, a);
    auto* shadow = update->add_flag("--shadow", a.shadow, "Count but never limit");
    auto* enforce = update->add_flag("--no-shadow", a.no_shadow, "Enforce the limits again");
    shadow->excludes(enforce);
    update->callback([&] {
        chosen = [&](session& s) {
            json body = json::object();
            if (!a.limits.empty()) body["limits"] = limits_body(a.limits);
            if (a.shadow || a.no_shadow) body["shadow"] = a.shadow;
            if (body.empty())
                throw usage_error("plan update: give --limit, --shadow or --no-shadow");
            const json updated = s.request("PATCH", plans_path(a.name), body);
            s.print(updated, [&] { return format_plan(updated); });
        };
    });

    auto* list = plan->add_subcommand("list", "List the plans, the built-in 'default' first");
    add_page_size(list, a);
    list->callback([&] {
        chosen = [&](session& s) {
            s.print_pages("/v1/plans", "plans", a.page_size, [](const json& plans, paged_table& t) {
                return format_plans(plans, &t);
            });
        };
    });

    auto* show = plan->add_subcommand("show", "Show one plan and how many users follow it");
    show->add_option("NAME", a.name)->required();
    show->callback([&] {
        chosen = [&](session& s) {
            const json found = s.request("GET", plans_path(a.name));
            s.print(found, [&] { return format_plan(found); });
        };
    });

    auto* remove =
        plan->add_subcommand("delete", "Delete a plan (refused while any user follows it)");
    remove->add_option("NAME", a.name)->required();
    remove->callback([&] {
        chosen = [&](session& s) {
            const json deleted = s.request("DELETE", plans_path(a.name));
            s.print(deleted, [&] { return fmt::format("deleted plan {}\n", a.name); });
        };
    });
}

// `--key -` reads the key from stdin, so it stays out of shell history and `ps`.
std::string key_argument(const std::string& value) {
    if (value != "-") return value;
    std::string line;
    std::getline(std::cin, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
}

void add_key_commands(CLI::App& app, arguments& a, action& chosen) {
    auto* key = app.add_subcommand("key", "Create, adopt, list and revoke API keys");

    auto* create = key->add_subcommand("create", "Generate a new key (shown once)");
    create->add_option("USER", a.user)->required();
    create->add_option("--label", a.label, "A note for people, e.g. where the key is used");
    create->add_option("--expires", a.expires, "A duration from now (30d) or an RFC 3339 time")
        ->check(expiry_text);
    create->callback([&] {
        chosen = [&](session& s) {
            json body{{"user", a.user}};
            if (!a.label.empty()) body["label"] = a.label;
            if (!a.expires.empty()) body["expires"] = a.expires;
            const json created = s.request("POST", "/v1/keys", body);
            s.print(created, [&] { return format_created_key(created); });
        };
    });

    auto* adopt = key->add_subcommand("import", "Adopt an existing key for a user");
    adopt->add_option("USER", a.user)->required();
    adopt->add_option("--key", a.key, "The key (- reads it from stdin)")->required();
    adopt->add_option("--label", a.label, "A note for people");
    adopt->callback([&] {
        chosen = [&](session& s) {
            json body{{"user", a.user}, {"key", key_argument(a.key)}};
            if (!a.label.empty()) body["label"] = a.label;
            const client_response response = s.send("POST", "/v1/keys/import", body);
            if (response.status >= 300) throw cli_error(session::detail_of(response));
            const json& adopted = response.body;
            s.print(adopted, [&] {
                const std::string id = adopted.value("key_id", "");
                return response.status == 201
                           ? fmt::format("imported key {} for user {}\n", id, a.user)
                           : fmt::format("key {} already belongs to user {}; nothing changed\n", id,
                                         a.user);
            });
        };
    });

    auto* list = key->add_subcommand("list", "List keys, of everyone or of one user");
    list->add_option("USER", a.user);
    add_page_size(list, a);
    list->callback([&] {
        chosen = [&](session& s) {
            s.print_pages(with_query("/v1/keys", {{"user", a.user}}), "keys", a.page_size,
                          [](const json& keys, paged_table& t) { return format_keys(keys, &t); });
        };
    });

    auto* revoke = key->add_subcommand("revoke", "Revoke a key at once");
    revoke->add_option("KEY_ID", a.key_id)->required()->check(key_id_text);
    revoke->callback([&] {
        chosen = [&](session& s) {
            const json revoked = s.request("POST", "/v1/keys/" + a.key_id + "/revoke");
            s.print(revoked, [&] {
                return fmt::format("revoked key {} of user {}\n", a.key_id,
                                   revoked.value("user", ""));
            });
        };
    });
}

void add_import_command(CLI::App& app, arguments& a, action& chosen) {
    auto* bulk = app.add_subcommand(
        "import",
        "Bulk-add users and keys from lines user,key[,limit[,plan]] (a limit is N or limits "
        "joined by ';' like 1s:5;1m:100; all or nothing if a line is "
        "malformed; running it again changes nothing), or read back rlctl export's JSON lines "
        "(a .jsonl file or one starting with '{'; each chunk of 1000 records all or nothing)");
    bulk->add_option("FILE", a.file, "CSV file, or JSON lines from rlctl export (- for stdin)")
        ->required();
    bulk->callback([&] {
        chosen = [&](session& s) {
            if (is_json_lines(a.file)) {
                const json summary = import_records_file(s, a.file);
                s.print(summary, [&] {
                    return fmt::format("{}: {} records imported\n", a.file,
                                       summary.at("records").get<std::size_t>());
                });
                return;
            }
            const json summary = import_file(s, a.file);
            s.print(summary, [&] { return format_import_summary(summary); });
            const auto errors = summary.at("errors").get<std::size_t>();
            if (errors > 0)
                throw cli_error(fmt::format("{} row{} of {} not imported", errors,
                                            errors == 1 ? "" : "s", a.file));
        };
    });
}

void add_copy_commands(CLI::App& app, arguments& a, action& chosen) {
    auto* out = app.add_subcommand(
        "export",
        "Write plans, users and keys (hashes, never a secret) as JSON lines, for rlctl import");
    out->add_option("--output,-o", a.output, "Write to this file instead of stdout");
    out->callback([&] {
        chosen = [&](session& s) {
            const std::size_t n = export_records(s, a.output);
            if (!a.output.empty() && a.output != "-")
                std::cerr << fmt::format("exported {} records to {}\n", n, a.output);
        };
    });

    auto* backup_cmd = app.add_subcommand(
        "backup",
        "Copy the whole database, consistently, while the server runs (or offline with "
        "--data-dir); DIR is on the server's host and must not exist");
    backup_cmd->add_option("DIR", a.file, "The new backup directory")->required();
    backup_cmd->callback([&] {
        chosen = [&](session& s) {
            const json manifest = backup(s, a.file);
            s.print(manifest, [&] {
                return fmt::format(
                    "backup in {} (schema version {}, taken {})\n", manifest.value("path", a.file),
                    manifest.value("schema_version", 0), manifest.value("taken_at", ""));
            });
        };
    });

    auto* restore_cmd = app.add_subcommand(
        "restore",
        "Restore a backup into --data-dir, which must be empty or absent; DIR is only read");
    restore_cmd->add_option("DIR", a.file, "A directory written by rlctl backup")->required();
    restore_cmd->callback([&] {
        chosen = [&](session& s) {
            if (a.data_dir.empty())
                throw usage_error("restore: give the new data directory with --data-dir");
            const json restored = restore(a.file, a.data_dir);
            s.print(restored, [&] {
                return fmt::format("restored {} into {} (schema version {}, taken {})\n", a.file,
                                   a.data_dir, restored.at("schema_version").get<int>(),
                                   restored.at("taken_at").get<std::string>());
            });
        };
    });
}

void add_usage_command(CLI::App& app, arguments& a, action& chosen) {
    auto* usage = app.add_subcommand("usage", "Allowed and rejected requests over time");
    auto* user = usage->add_option("--user", a.user, "Only this user's keys");
    auto* key = usage->add_option("--key", a.key_id, "Only this key")->check(key_id_text);
    user->excludes(key);
    usage->add_option("--since", a.since, "Start: a duration before now or a time (default 1h)")
        ->check(time_text);
    usage->add_option("--until", a.until, "End: now, a duration before now or a time")
        ->check(time_text);
    usage->add_option("--step", a.step, "Bucket size: 1s, 1m, 1h or 1d (default: fits the range)")
        ->check(step_text);
    usage->add_flag("--chart", a.chart, "Draw a bar chart of the range instead of a table");
    usage->callback([&] {
        a.prints_csv = true;
        chosen = [&](session& s) {
            if (a.chart && !s.plain_text())
                throw usage_error("--chart draws for people; leave out --json and --csv");
            const json report = s.request("GET", with_query("/v1/usage", {{"user", a.user},
                                                                          {"key_id", a.key_id},
                                                                          {"since", a.since},
                                                                          {"until", a.until},
                                                                          {"step", a.step}}));
            const std::string scope = !a.user.empty()     ? "user " + a.user
                                      : !a.key_id.empty() ? "key " + a.key_id
                                                          : "all users";
            s.print(
                report,
                [&] {
                    return a.chart ? format_usage_chart(report, scope)
                                   : format_usage(report, scope);
                },
                [&] { return format_usage_csv(report); });
        };
    });
}

void add_top_command(CLI::App& app, arguments& a, action& chosen) {
    auto* top =
        app.add_subcommand("top",
                           "The heaviest users by admitted, by rejected and (where shadow mode "
                           "counted any) by shadow-limited requests");
    top->add_option("--since", a.since, "Start: a duration before now or a time (default 1h)")
        ->check(time_text);
    top->add_option("--until", a.until, "End: now, a duration before now or a time")
        ->check(time_text);
    top->add_option("--limit", a.top_limit, "How many users per ranking (default 10)")
        ->check(CLI::Range(1, 10000));
    top->add_option("--by", a.by, "Only one ranking: admitted, rejected or shadow")
        ->check(CLI::IsMember({"admitted", "rejected", "shadow"}));
    top->callback([&] {
        a.prints_csv = true;
        chosen = [&](session& s) {
            const json ranking = s.request(
                "GET", with_query("/v1/usage/top", {{"since", a.since},
                                                    {"until", a.until},
                                                    {"limit", std::to_string(a.top_limit)},
                                                    {"by", a.by}}));
            s.print(
                ranking, [&] { return format_top(ranking); },
                [&] { return format_top_csv(ranking); });
        };
    });
}

}  // namespace

int run(int argc, const char* const* argv) {
    arguments a;
    action chosen;
    CLI::App app{"rlctl: manage ratelimitd users, plans, API keys and usage", "rlctl"};
    try {
        app.set_version_flag("--version", common::version_line("rlctl"));
        app.formatter(std::make_shared<common::man_page_formatter>(rlctl_manual()));
        // Global options work before and after the command.
        app.fallthrough();
        app.add_option(
               "--server", a.server,
               fmt::format("Admin API of a running ratelimitd (default {})", default_admin_url()))
            ->envname("RL_ADMIN_URL");
        app.add_option("--token", a.token, "Admin token (default: the server's admin.token file)")
            ->envname("RL_ADMIN_TOKEN");
        app.add_option("--data-dir", a.data_dir,
                       "Work on this data directory, or on the server that holds it")
            ->envname("RL_DATA_DIR");
        auto* json_flag =
            app.add_flag("--json", a.json_output, "Print one JSON document, for scripts");
        app.add_flag("--csv", a.csv_output,
                     "Print CSV with a header row (usage and top), for spreadsheets")
            ->excludes(json_flag);
        add_user_commands(app, a, chosen);
        add_plan_commands(app, a, chosen);
        add_key_commands(app, a, chosen);
        add_import_command(app, a, chosen);
        add_copy_commands(app, a, chosen);
        add_usage_command(app, a, chosen);
        add_top_command(app, a, chosen);
        add_cluster_commands(app, chosen);
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    } catch (const std::exception& e) {
        std::cerr << "rlctl: " << e.what() << '\n';
        return 1;
    }

    if (!chosen) {
        // `rlctl` or `rlctl user` alone: show what can follow (checked here rather than with
        // require_subcommand, which would hide a mistyped command behind "a subcommand is
        // required").
        std::cerr << app.help();
        return 2;
    }
    try {
        // Checked before anything is sent, so a refused --csv changes nothing.
        if (a.csv_output && !a.prints_csv)
            throw usage_error("--csv: only usage and top print CSV; try --json");
        auto given = [](const std::string& v) {
            return v.empty() ? std::nullopt : std::optional(v);
        };
        session s({given(a.server), given(a.token), given(a.data_dir)}, a.json_output,
                  a.csv_output);
        chosen(s);
        std::cout.flush();
        if (!std::cout) throw cli_error("cannot write to standard output");
        return 0;
    } catch (const usage_error& e) {
        std::cerr << "rlctl: " << e.what() << "\nRun with --help for more information.\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "rlctl: " << e.what() << '\n';
        return 1;
    } catch (...) {
        std::cerr << "rlctl: unexpected error\n";
        return 1;
    }
}

}  // namespace rl::cli
