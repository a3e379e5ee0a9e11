#include "cli/manual.hpp"

#include <fmt/format.h>

#include "cli/admin_client.hpp"
#include "common/data_dir_files.hpp"

namespace rl::cli {

common::man_page rlctl_manual() {
    using common::admin_token_file;
    using common::admin_url_file;
    return {
        "rlctl - manage ratelimitd users, plans, API keys and usage",
        "rlctl [--server URL] [--token T] [--data-dir DIR] [--json] COMMAND [ARGS]\n"
        "rlctl COMMAND --help\n"
        "rlctl --help | --version",
        fmt::format(
            "rlctl talks to the admin API of a running ratelimitd (--server, default\n"
            "{}). With --data-dir and no server holding that directory, it opens\n"
            "the RocksDB directory itself: provisioning before the first start, offline reports.\n"
            "Output is a table for people, or one JSON document on stdout with --json.",
            default_admin_url()),
        {
            {"ENVIRONMENT",
             fmt::format(
                 "RL_ADMIN_URL    the admin API (as --server)\n"
                 "RL_ADMIN_TOKEN  the admin token (as --token); else the {} file in the data\n"
                 "                directory, {} or {}\n"
                 "RL_DATA_DIR     as --data-dir\n"
                 "A flag wins over its variable.",
                 admin_token_file, usual_data_dirs[0], usual_data_dirs[1])},
            {"EXIT STATUS",
             "0  success\n"
             "1  failure: the server refused, or storage failed (one line on stderr)\n"
             "2  bad usage: unknown command or option, a bad value"},
            {"FILES", fmt::format("<data-dir>/{}  the token a server on this host generated\n"
                                  "<data-dir>/{}    where that server's admin API listens",
                                  admin_token_file, admin_url_file)},
            {"PLANS",
             "A plan is a named policy many users follow: up to 8 limits, each N requests per\n"
             "sliding window (1s to 1h: 1s:10, 90s:50, 1m:300, 1h:5000) or per UTC day or month\n"
             "(day:10000, month:100000). Every user follows a plan or has limits of their own.\n"
             "The built-in plan 'default' is --default-limit per 1s and cannot be changed here.\n"
             "A plan cannot be deleted while any user follows it.\n"
             "  plan create NAME --limit WINDOW:Q [--limit ...] [--shadow]\n"
             "  plan update NAME [--limit ...] [--shadow | --no-shadow]\n"
             "  plan list | plan show NAME | plan delete NAME\n"
             "  user create|update NAME [--plan PLAN | --limit W:Q ...]  (--limit N = 1s:N)"},
            {"CLUSTER",
             "Cluster mode keeps the catalog in etcd (docs/cluster.md). Once, before the nodes:\n"
             "  cluster init --etcd URLS [--groups 32] [--lease-ttl 3s] [--fence 1250ms]\n"
             "               [--reply-deadline 250ms] [--default-limit N]\n"
             "               [--from-data-dir DIR] [--force]\n"
             "writes /rl/v1/config (a different one is replaced only with --force) and, with\n"
             "--from-data-dir, copies a stopped node's plans, users and keys into etcd. Records\n"
             "etcd already holds are left alone, so an interrupted copy is simply run again."},
            {"EXAMPLES",
             "rlctl plan create free --limit 1s:5 --limit day:1000\n"
             "rlctl user create bob --plan free\n"
             "rlctl user create alice --limit 20\n"
             "rlctl --json key create alice --label ci --expires 90d\n"
             "rlctl key list alice\n"
             "rlctl user update alice --disable\n"
             "rlctl import users.csv\n"
             "rlctl usage --user alice --since 24h --step 1h\n"
             "rlctl --data-dir /var/lib/ratelimitd user list"},
            {"SEE ALSO", "ratelimitd --help; README.md in the source tree."},
        }};
}

}  // namespace rl::cli
