// `rlctl cluster init` against a real etcd: the config written once (replaced only with
// --force), bad timings refused, and a single node's catalog copied in, idempotently.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "admin/catalog.hpp"
#include "cluster/catalog_sync.hpp"
#include "cluster/layout.hpp"
#include "cluster/ownership.hpp"
#include "tests/cluster/catalog_test_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using namespace rl;
using namespace std::chrono_literals;

namespace {

testing::command_result rlctl(std::vector<std::string> args) {
    args.insert(args.begin(), testing::rlctl_path());
    return testing::run_command(args);
}

std::string config_of(cluster::etcd_client& etcd) {
    auto got = etcd.get(std::string(cluster::layout::config_key));
    REQUIRE(got);
    return got->kvs.empty() ? "" : got->kvs.front().value;
}

}  // namespace

TEST_CASE(
    "rlctl cluster init: writes the config once, replaces a different one only with --force") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    cluster::etcd_client etcd(testing::options_for(etcd_process));
    const std::string url = etcd_process.client_url();

    auto first =
        rlctl({"--json", "cluster", "init", "--etcd", url, "--groups", "16", "--lease-ttl", "4s",
               "--fence", "1500ms", "--reply-deadline", "300ms", "--default-limit", "7"});
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(nlohmann::json::parse(first.out).at("config_written") == true);
    const auto settings = cluster::settings_from_json(config_of(etcd));
    CHECK(settings.groups == 16);
    CHECK(settings.lease_ttl == 4s);
    CHECK(settings.fence == 1500ms);
    CHECK(settings.reply_deadline == 300ms);
    CHECK(settings.default_limit == 7);

    SECTION("the same again changes nothing") {
        auto again =
            rlctl({"cluster", "init", "--etcd", url, "--groups", "16", "--lease-ttl", "4s",
                   "--fence", "1500ms", "--reply-deadline", "300ms", "--default-limit", "7"});
        CHECK(again.exit_code == 0);
        CHECK(again.out.find("already") != std::string::npos);
    }
    SECTION("a different config is refused, then replaced with --force") {
        const std::string before = config_of(etcd);
        auto refused = rlctl({"cluster", "init", "--etcd", url});
        CHECK(refused.exit_code == 1);
        CHECK(refused.err.find("--force") != std::string::npos);
        CHECK(config_of(etcd) == before);
        auto forced = rlctl({"cluster", "init", "--etcd", url, "--force"});
        CHECK(forced.exit_code == 0);
        CHECK(cluster::settings_from_json(config_of(etcd)).groups == 32);
    }
    SECTION("timings that break the fence rule are bad usage, and nothing is written") {
        const std::string before = config_of(etcd);
        auto fence = rlctl({"cluster", "init", "--etcd", url, "--force", "--fence", "1000ms"});
        CHECK(fence.exit_code == 2);
        CHECK(fence.err.find("--fence") != std::string::npos);
        auto lease = rlctl({"cluster", "init", "--etcd", url, "--force", "--lease-ttl", "1s"});
        CHECK(lease.exit_code == 2);
        auto text = rlctl({"cluster", "init", "--etcd", url, "--force", "--fence", "soon"});
        CHECK(text.exit_code == 2);
        CHECK(config_of(etcd) == before);
    }
}

TEST_CASE(
    "rlctl cluster init --from-data-dir copies a node's catalog, and a repeat only what is "
    "missing") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    cluster::etcd_client etcd(testing::options_for(etcd_process));
    const std::string source = dir / "single";
    std::uint64_t revoked_id = 0;
    {
        auto data = storage::data_dir::open(source);
        admin::catalog catalog(*data, 10);
        REQUIRE(catalog.create_plan("gold", "1s:100,1m:3000", false).succeeded());
        std::vector<admin::import_row> rows;
        for (int i = 0; i < 260; ++i)
            rows.push_back({"user" + std::to_string(i % 130),
                            "secret-" + std::to_string(i),
                            {},
                            {},
                            i % 3 == 0 ? "gold" : ""});
        REQUIRE(catalog.import(rows).errors.empty());
        const auto key = catalog.create_key("user1", "ci", 0);
        REQUIRE(key.succeeded());
        revoked_id = key.value->record.key_id;
        REQUIRE(catalog.revoke_key(revoked_id).succeeded());
    }

    auto copied = rlctl({"--json", "cluster", "init", "--etcd", etcd_process.client_url(),
                         "--from-data-dir", source});
    INFO(copied.err);
    REQUIRE(copied.exit_code == 0);
    const auto result = nlohmann::json::parse(copied.out);
    CHECK(result["copied"]["plans"]["copied"] == 1);
    CHECK(result["copied"]["users"]["copied"] == 130);
    CHECK(result["copied"]["keys"]["copied"] == 261);
    CHECK(copied.err.find("keys: 261 copied") != std::string::npos);  // progress on stderr

    // A node loading from etcd holds the same catalog as the single node did.
    {
        auto original = storage::data_dir::open(source);
        auto cache = storage::data_dir::open(dir / "cache");
        testing::catalog_observer_log observer;
        cluster::catalog_sync sync(etcd, *cache, observer, "rl1", nullptr);
        sync.load();
        CHECK(cache->catalog().list_users().size() == 130);
        CHECK(cache->catalog().find_plan("gold")->limits == "1s:100,1m:3000");
        CHECK(cache->catalog().find_user("user3")->plan == "gold");
        std::size_t same = 0;
        original->catalog().for_each_key([&](const storage::key_record& key) {
            const auto there = cache->catalog().find_key(key.hash);
            if (there && there->key_id == key.key_id && there->user == key.user &&
                there->revoked_at == key.revoked_at)
                ++same;
        });
        CHECK(same == 261);
        CHECK(cache->catalog().find_key_by_id(revoked_id)->revoked_at != 0);
    }

    // A change made in the cluster since is not undone by a repeat.
    REQUIRE(etcd.erase(cluster::layout::user_key("user5")));
    auto again = rlctl({"--json", "cluster", "init", "--etcd", etcd_process.client_url(),
                        "--from-data-dir", source});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    const auto repeat = nlohmann::json::parse(again.out);
    CHECK(repeat["config_written"] == false);
    CHECK(repeat["copied"]["keys"]["copied"] == 0);
    CHECK(repeat["copied"]["keys"]["already_present"] == 261);
    CHECK(repeat["copied"]["users"]["copied"] == 1);  // the one missing: a repeat fills gaps
}

TEST_CASE("rlctl cluster init --from-data-dir refuses a directory that is not there, first") {
    testing::temp_dir dir;
    testing::etcd_member etcd_process(dir.path());
    const auto result = rlctl(
        {"cluster", "init", "--etcd", etcd_process.client_url(), "--from-data-dir", dir / "typo"});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("no data directory") != std::string::npos);
    cluster::etcd_client etcd(testing::options_for(etcd_process));
    CHECK(config_of(etcd).empty());  // refused before anything was written
}

TEST_CASE("rlctl cluster init: an unreachable etcd is one line and exit 1") {
    const auto result = rlctl(
        {"cluster", "init", "--etcd", "http://127.0.0.1:" + std::to_string(testing::free_port())});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("etcd") != std::string::npos);
}
