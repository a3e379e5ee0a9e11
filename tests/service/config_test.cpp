#include <catch2/catch.hpp>

#include <cstdlib>

#include "service/config.hpp"

using rl::service::config_error;
using rl::service::parse_config;
using rl::service::parse_endpoint;

namespace {

rl::service::config parse(std::vector<const char*> args) {
    args.insert(args.begin(), "ratelimitd");
    auto outcome = parse_config(static_cast<int>(args.size()), args.data());
    REQUIRE(outcome.run);
    return *outcome.run;
}

// Sets an environment variable for one scope.
struct scoped_env {
    const char* name;
    scoped_env(const char* n, const char* value) : name(n) { ::setenv(n, value, 1); }
    ~scoped_env() { ::unsetenv(name); }
};

}  // namespace

TEST_CASE("defaults follow the SPEC") {
    const auto cfg = parse({});
    REQUIRE(cfg.listen.host == "0.0.0.0");
    REQUIRE(cfg.listen.port == 8080);
    REQUIRE(cfg.admin_listen.host == "127.0.0.1");
    REQUIRE(cfg.admin_listen.port == 8081);
    REQUIRE(cfg.data_dir == "./data");
    REQUIRE(cfg.default_limit == 10);
    REQUIRE(cfg.threads >= 1);
    REQUIRE(cfg.usage_retention_1s == std::chrono::hours(48));
    REQUIRE(cfg.usage_retention_1m == std::chrono::hours(30 * 24));
    REQUIRE(cfg.usage_retention_1h == std::chrono::hours(400 * 24));
    REQUIRE_FALSE(cfg.admin_token);
    REQUIRE(cfg.max_connections == 10'000);
    REQUIRE(cfg.idle_timeout == std::chrono::seconds(60));
}

TEST_CASE("connection cap and idle timeout come from flags or the environment") {
    scoped_env cap("RL_MAX_CONNECTIONS", "50");
    scoped_env idle("RL_IDLE_TIMEOUT", "5m");
    auto cfg = parse({});
    REQUIRE(cfg.max_connections == 50);
    REQUIRE(cfg.idle_timeout == std::chrono::minutes(5));
    cfg = parse({"--max-connections", "7", "--idle-timeout", "2"});
    REQUIRE(cfg.max_connections == 7);
    REQUIRE(cfg.idle_timeout == std::chrono::seconds(2));
}

TEST_CASE("flags set every option") {
    const auto cfg =
        parse({"--listen", "127.0.0.1:9000", "--admin-listen", "[::1]:9001", "--data-dir", "/tmp/x",
               "--default-limit", "25", "--threads", "3", "--usage-retention", "7d"});
    REQUIRE(cfg.listen.host == "127.0.0.1");
    REQUIRE(cfg.listen.port == 9000);
    REQUIRE(cfg.admin_listen.host == "::1");
    REQUIRE(cfg.admin_listen.port == 9001);
    REQUIRE(cfg.data_dir == "/tmp/x");
    REQUIRE(cfg.default_limit == 25);
    REQUIRE(cfg.threads == 3);
    REQUIRE(cfg.usage_retention_1s == std::chrono::hours(7 * 24));
}

TEST_CASE("environment variables set options and flags win over them") {
    scoped_env limit("RL_DEFAULT_LIMIT", "42");
    scoped_env listen("RL_LISTEN", ":7000");
    scoped_env token("RL_ADMIN_TOKEN", "0123456789abcdef0123");
    auto cfg = parse({});
    REQUIRE(cfg.default_limit == 42);
    REQUIRE(cfg.listen.port == 7000);
    REQUIRE(cfg.admin_token == std::string("0123456789abcdef0123"));
    cfg = parse({"--default-limit", "5"});
    REQUIRE(cfg.default_limit == 5);
}

TEST_CASE("bad values are config errors") {
    for (std::vector<const char*> bad :
         std::vector<std::vector<const char*>>{{"--default-limit", "0"},
                                               {"--default-limit", "100001"},
                                               {"--default-limit", "x"},
                                               {"--threads", "-2"},
                                               {"--listen", "8080"},
                                               {"--listen", "host:port"},
                                               {"--usage-retention", "30s"},
                                               {"--usage-retention", "forever"},
                                               {"--retention-1m", "1h"},
                                               {"--retention-1h", "7d"},
                                               {"--retention-1s", "31d"},
                                               {"--retention-1h", "x"},
                                               {"--data-dir", ""},
                                               {"--max-connections", "0"},
                                               {"--max-connections", "1000001"},
                                               {"--idle-timeout", "0s"},
                                               {"--idle-timeout", "2h"},
                                               {"--idle-timeout", "soon"},
                                               {"--bogus"}}) {
        bad.insert(bad.begin(), "ratelimitd");
        INFO(bad[1] << " " << (bad.size() > 2 ? bad[2] : ""));
        REQUIRE_THROWS_AS(parse_config(static_cast<int>(bad.size()), bad.data()), config_error);
    }
}

TEST_CASE("each usage resolution has its retention; --retention-1s is --usage-retention") {
    auto cfg = parse({"--retention-1s", "3d", "--retention-1m", "60d", "--retention-1h", "500d"});
    REQUIRE(cfg.usage_retention_1s == std::chrono::hours(72));
    REQUIRE(cfg.usage_retention_1m == std::chrono::hours(60 * 24));
    REQUIRE(cfg.usage_retention_1h == std::chrono::hours(500 * 24));
    scoped_env minute("RL_RETENTION_1M", "90d");
    cfg = parse({});
    REQUIRE(cfg.usage_retention_1m == std::chrono::hours(90 * 24));
}

TEST_CASE("retention flags and variables follow --usage-retention-1s|1m|1h; old names still work") {
    auto cfg = parse({"--usage-retention-1s", "2d", "--usage-retention-1m", "40d",
                      "--usage-retention-1h", "400d"});
    REQUIRE(cfg.usage_retention_1s == std::chrono::hours(48));
    REQUIRE(cfg.usage_retention_1m == std::chrono::hours(40 * 24));
    REQUIRE(cfg.usage_retention_1h == std::chrono::hours(400 * 24));
    {
        scoped_env old_second("RL_USAGE_RETENTION", "3d");
        scoped_env old_minute("RL_RETENTION_1M", "50d");
        scoped_env old_hour("RL_RETENTION_1H", "500d");
        cfg = parse({});
        REQUIRE(cfg.usage_retention_1s == std::chrono::hours(72));
        REQUIRE(cfg.usage_retention_1m == std::chrono::hours(50 * 24));
        REQUIRE(cfg.usage_retention_1h == std::chrono::hours(500 * 24));
        // The new names win over the old ones, and a flag over both.
        scoped_env second("RL_USAGE_RETENTION_1S", "4d");
        scoped_env minute("RL_USAGE_RETENTION_1M", "60d");
        scoped_env hour("RL_USAGE_RETENTION_1H", "600d");
        cfg = parse({"--usage-retention-1h", "700d"});
        REQUIRE(cfg.usage_retention_1s == std::chrono::hours(96));
        REQUIRE(cfg.usage_retention_1m == std::chrono::hours(60 * 24));
        REQUIRE(cfg.usage_retention_1h == std::chrono::hours(700 * 24));
    }
    REQUIRE(parse({"--usage-retention", "5d"}).usage_retention_1s == std::chrono::hours(120));
}

TEST_CASE("endpoints parse host:port forms") {
    REQUIRE(parse_endpoint(":80", "x").host == "0.0.0.0");
    REQUIRE(parse_endpoint("[::]:80", "x").host == "::");
    REQUIRE(parse_endpoint("localhost:0", "x").port == 0);
    REQUIRE_THROWS_AS(parse_endpoint("localhost:-1", "x"), config_error);
}

TEST_CASE("--on-storage-error is open by default, closed on request, and nothing else") {
    using rl::service::on_storage_error;
    REQUIRE(parse({}).on_storage_error == on_storage_error::open);
    REQUIRE(parse({"--on-storage-error", "closed"}).on_storage_error == on_storage_error::closed);
    {
        scoped_env mode("RL_ON_STORAGE_ERROR", "closed");
        REQUIRE(parse({}).on_storage_error == on_storage_error::closed);
        REQUIRE(parse({"--on-storage-error=open"}).on_storage_error == on_storage_error::open);
    }
    const char* args[] = {"ratelimitd", "--on-storage-error", "maybe"};
    REQUIRE_THROWS_WITH(parse_config(3, args),
                        "--on-storage-error: 'maybe' is not 'open' or 'closed'");
}
