#include "cli/manual.hpp"

#include <fmt/format.h>

#include "cli/admin_client.hpp"
#include "common/data_dir_files.hpp"

namespace rl::cli {

common::man_page rlctl_manual() {
    using common::admin_token_file;
    using common::admin_url_file;
    return {
        "rlctl - manage ratelimitd users, API keys and usage",
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
            {"EXAMPLES",
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
