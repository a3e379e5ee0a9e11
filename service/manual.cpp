#include "service/manual.hpp"

#include <fmt/format.h>

#include "common/data_dir_files.hpp"

namespace rl::service {

common::man_page ratelimitd_manual() {
    using common::admin_readonly_token_file;
    using common::admin_token_file;
    using common::admin_url_file;
    return {
        "ratelimitd - exact per-user API rate limiter (HTTP, RocksDB)",
        "ratelimitd [OPTIONS]\n"
        "ratelimitd healthcheck [--listen HOST:PORT] [--path /healthz] [--timeout SECONDS] [URL]\n"
        "ratelimitd --help | --version",
        "ratelimitd decides, per API key, whether a request may pass. A user owns one or more\n"
        "keys and the limits belong to the user: a policy of sliding windows (1s to 1h) and UTC\n"
        "day and month quotas, each never holding more than its quota, across all of the\n"
        "user's keys and connections. Users follow a named plan (rlctl plan ...) or have limits\n"
        "of their own; the built-in plan 'default' is --default-limit per 1 s. --shadow decides\n"
        "and counts but never refuses (X-RateLimit-Shadow: limited).\n"
        "\n"
        "Public listener (--listen): /limit with the key in X-API-KEY answers 200 (admitted,\n"
        "X-RateLimit-User names the user), 429 with Retry-After (over the limit), 401 (no,\n"
        "unknown, revoked or expired key) or 403 (user disabled); /healthz and /readyz for\n"
        "probes; `ratelimitd healthcheck` GETs /healthz on --listen (or URL) and exits 0 on 2xx,\n"
        "1 otherwise, for a container HEALTHCHECK. Gateways: nginx auth_request (send\n"
        "X-RateLimit-Mode: auth-request), Caddy forward_auth, Traefik ForwardAuth, Envoy\n"
        "ext_authz; see deploy/ in the source tree.\n"
        "\n"
        "Admin listener (--admin-listen, keep it on loopback): the JSON admin API rlctl uses and\n"
        "GET /metrics (Prometheus text format), all behind Authorization: Bearer <token>. A\n"
        "second, read-only token may call GET routes and /metrics only (403 otherwise).\n"
        "\n"
        "Users, keys (stored as SHA-256 only) and per-second usage live in RocksDB under\n"
        "--data-dir. Every admitted request is in the write-ahead log before its 200 is sent, so\n"
        "a restart, even after kill -9, never hands out extra quota.",
        {
            {"ENVIRONMENT",
             fmt::format("Each option above can be set by the variable shown with it (Env:...);\n"
                         "a flag wins over its variable.\n"
                         "RL_ADMIN_TOKEN   the admin bearer token (16+ characters). Without it a\n"
                         "                 token is generated at first start into\n"
                         "                 <data-dir>/{}.\n"
                         "RL_ADMIN_READONLY_TOKEN  the read-only admin token, the same way, else\n"
                         "                 generated into <data-dir>/{}.\n"
                         "RL_USAGE_RETENTION, RL_RETENTION_1M, RL_RETENTION_1H: the older names\n"
                         "                 of RL_USAGE_RETENTION_1S, _1M and _1H, read when those\n"
                         "                 are unset.",
                         admin_token_file, admin_readonly_token_file)},
            {"SIGNALS",
             "SIGTERM, SIGINT  stop accepting, let queued replies go out, flush, exit 0."},
            {"EXIT STATUS",
             "0  stopped by SIGTERM or SIGINT after a clean flush; also --help and --version\n"
             "1  could not run: data directory held by another process, port in use, storage\n"
             "   error (one line on stderr)\n"
             "2  bad configuration: an unknown flag, a bad value, an unusable --data-dir or\n"
             "   --access-log (one line on stderr)"},
            {"FILES", fmt::format("<data-dir>/              RocksDB: users, keys, usage\n"
                                  "<data-dir>/{}   admin bearer token (mode 0600) when "
                                  "RL_ADMIN_TOKEN is unset\n"
                                  "<data-dir>/{}  read-only admin token (mode 0600) when "
                                  "RL_ADMIN_READONLY_TOKEN is unset\n"
                                  "<data-dir>/{}     where the admin API listens, for rlctl "
                                  "--data-dir",
                                  admin_token_file, admin_readonly_token_file, admin_url_file)},
            {"LOGS",
             "stderr: one line per start, stop and configuration problem. With --access-log, one\n"
             "JSON object per /limit request: time, remote, method, path, status, outcome, "
             "reason,\n"
             "key_id (never the key), user, latency_us. With --audit-log, one JSON object per\n"
             "admin change: time, token kind, remote, method, path, status, before and after\n"
             "(keys by key_id only)."},
            {"EXAMPLES",
             fmt::format("ratelimitd --data-dir /var/lib/ratelimitd --default-limit 20\n"
                         "RL_LISTEN=0.0.0.0:9090 RL_THREADS=2 ratelimitd\n"
                         "ratelimitd --access-log /var/log/ratelimitd/access.jsonl\n"
                         "curl -H 'X-API-KEY: rl_...' http://127.0.0.1:8080/limit\n"
                         "curl -H \"Authorization: Bearer $(cat data/{})\" "
                         "http://127.0.0.1:8081/metrics",
                         admin_token_file)},
            {"SEE ALSO", "rlctl --help; README.md and deploy/ in the source tree."},
        }};
}

}  // namespace rl::service
