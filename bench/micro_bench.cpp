// Micro-benchmarks of the /limit path without sockets (Google Benchmark). They measure and print;
// nothing here asserts a time. Run: make micro-bench (a Release build), or
//   build-rel/micro_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Each part of a request on its own, then all of them together as the server runs them:
//   sha256          the key's digest (every request with a well-formed key)
//   key_lookup      digest -> key id and user in the in-memory index
//   limiter_decide  one decision in the exact 1-s sliding window of the single-limit limiter
//   policy_decide   one decision under a policy: one limit (1s:10) and three
//                   (1s:10,1m:300,day:10000), side by side
//   usage_record    one group-commit batch written to RocksDB's WAL (per request in the batch)
//   usage_tally     one 429's count summed in memory (written once a second)
//   render          the reply's status, headers and body
//   request         decide + record + settle + render: everything but the socket
// Sizes follow make bench: 100,000 users with one key each, limit 10/s.

#include <benchmark/benchmark.h>

#include <unistd.h>
#include <filesystem>
#include <random>

#include "admin/catalog.hpp"
#include "limiter/policy_limiter.hpp"
#include "limiter/sliding_window_limiter.hpp"
#include "service/key_index.hpp"
#include "service/public_replies.hpp"
#include "storage/data_dir.hpp"

namespace {

using namespace rl;

constexpr std::size_t user_count = 100'000;

std::string key_text(std::size_t i) {
    return "bk_" + std::to_string(1'000'000 + i);
}

// One data directory with user_count users and keys, loaded into an index, shared by every
// benchmark (building it takes a few seconds).
struct world {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("rl-micro-" + std::to_string(::getpid()));
    std::unique_ptr<storage::data_dir> store;
    service::key_index keys{10};
    std::vector<std::string> plain_keys;
    std::vector<common::key_hash> hashes;

    world() {
        std::filesystem::remove_all(dir);
        store = storage::data_dir::open(dir.string());
        admin::catalog catalog(*store, 10, nullptr);
        std::vector<admin::import_row> rows;
        for (std::size_t i = 0; i < user_count; ++i) {
            plain_keys.push_back(key_text(i));
            hashes.push_back(common::sha256(plain_keys.back()));
            rows.push_back({"u" + std::to_string(i), plain_keys.back(), std::nullopt});
        }
        catalog.import(rows);
        store->compact();  // so no flush or compaction of the setup runs during a benchmark
        keys.load(store->catalog(), nullptr);
    }
    ~world() {
        store.reset();
        std::filesystem::remove_all(dir);
    }
    static world& get() {
        static world w;
        return w;
    }
};

// Visits indices in a fixed pseudo-random order, as a spread load does (no cache-friendly
// sequential walk).
std::vector<std::size_t> shuffled(std::size_t n) {
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
    return order;
}

void sha256(benchmark::State& state) {
    const std::string key = "rl_0123456789_abcdefghijklmnopqrstuvwxyz234567";
    for (auto _ : state) benchmark::DoNotOptimize(common::sha256(key));
}
BENCHMARK(sha256);

void key_lookup(benchmark::State& state) {
    world& w = world::get();
    const auto order = shuffled(user_count);
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
    for (auto _ : state) {
        benchmark::DoNotOptimize(w.keys.find(w.hashes[order[i]], 1'800'000'000));
        if (++i == order.size()) i = 0;
    }
}
BENCHMARK(key_lookup)->Threads(1)->Threads(2)->UseRealTime();

// range(0): users cycled through; 100 = hot (mostly limited), 100000 = spread (mostly admitted).
// The single 1-s window of the original limiter, and policies of one and of three limits.
void limiter_decide(benchmark::State& state) {
    static limiter::sliding_window_limiter limiter;  // shared by the threads of a run
    const auto users = static_cast<std::size_t>(state.range(0));
    const auto order = shuffled(users);
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919 % users;
    auto now = std::chrono::steady_clock::now();
    for (auto _ : state) {
        now += std::chrono::microseconds(10);  // 100k decisions per second of limiter time
        benchmark::DoNotOptimize(
            limiter.decide(static_cast<limiter::user_id>(order[i] + 1), 10, now));
        if (++i == users) i = 0;
    }
}
BENCHMARK(limiter_decide)->Arg(100)->Arg(100'000)->Threads(1)->Threads(2)->UseRealTime();

template <const char* Policy>
void policy_decide(benchmark::State& state) {
    static limiter::policy_limiter limiter;  // shared by the threads of a run
    static const limiter::policy policy = *limiter::parse_policy(Policy).value;
    const auto users = static_cast<std::size_t>(state.range(0));
    const auto order = shuffled(users);
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919 % users;
    auto now = std::chrono::steady_clock::now();
    auto wall = std::chrono::system_clock::now();
    for (auto _ : state) {
        now += std::chrono::microseconds(10);
        wall += std::chrono::microseconds(10);
        benchmark::DoNotOptimize(
            limiter.decide(static_cast<limiter::user_id>(order[i] + 1), policy, now, wall));
        if (++i == users) i = 0;
    }
}
constexpr char one_limit[] = "1s:10";
constexpr char three_limits[] = "1s:10,1m:300,day:10000";
BENCHMARK_TEMPLATE(policy_decide, one_limit)
    ->Arg(100)
    ->Arg(100'000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(policy_decide, three_limits)
    ->Arg(100)
    ->Arg(100'000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// range(0): requests per group-commit batch; one iteration is one request.
void usage_record(benchmark::State& state) {
    world& w = world::get();
    service::usage_recorder recorder(*w.store);
    const auto batch = static_cast<std::size_t>(state.range(0));
    std::vector<service::usage_event> events(batch);
    std::uint64_t key = 0;
    common::unix_seconds second = 1'800'000'000;
    for (auto _ : state) {
        // Filling the batch is part of the timing: a few ns per event next to the write.
        for (auto& e : events) e = {++key % user_count + 1, second, service::usage_kind::admitted};
        if (key % 100'000 < batch) ++second;
        benchmark::DoNotOptimize(recorder.record(events));
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}
// Process CPU time: includes the RocksDB threads that flush and compact what the writes left.
BENCHMARK(usage_record)->Arg(1)->Arg(16)->Arg(64)->MeasureProcessCPUTime()->UseRealTime();

// range(0): distinct keys (100: hot, 100,000: spread); one iteration is one 429's count summed
// in memory, and a write of the sums every 100,000 counts (the server writes once a second).
void usage_tally(benchmark::State& state) {
    world& w = world::get();
    service::usage_recorder recorder(*w.store);
    const auto keys = static_cast<std::uint64_t>(state.range(0));
    std::uint64_t key = 0;
    common::unix_seconds second = 1'800'000'000;
    for (auto _ : state) {
        recorder.tally({++key % keys + 1, second, service::usage_kind::limited});
        if (key % 100'000 == 0) {
            ++second;
            benchmark::DoNotOptimize(recorder.write_tallied());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(usage_tally)->Arg(100)->Arg(100'000);

// range(0): limits in the policy (1: 1s:10; 3: 1s:10,1m:300,day:10000).
void render(benchmark::State& state) {
    service::terms_book book;
    const auto* terms = book.get(
        "free",
        *limiter::parse_policy(state.range(0) == 1 ? "1s:10" : "1s:10,1m:300,day:10000").value,
        false);
    service::user_entry user;
    user.name = "u012345";
    service::limit_result result;
    result.outcome = service::limit_outcome::admitted;
    result.terms = terms;
    result.decision.count = static_cast<std::uint8_t>(terms->policy.limits.size());
    for (std::size_t i = 0; i < result.decision.count; ++i)
        result.decision.limits[i] = {terms->policy.limits[i].quota - 1, std::chrono::seconds(1),
                                     false};
    result.user = &user;
    for (auto _ : state) benchmark::DoNotOptimize(service::render(result));
}
BENCHMARK(render)->Arg(1)->Arg(3);

// The whole request without the socket, one usage write per request (a batch of one: the
// server's batches make the write cheaper per request, see usage_record).
void request(benchmark::State& state) {
    world& w = world::get();
    limiter::policy_limiter limiter;
    service::usage_recorder recorder(*w.store);
    service::metrics counters;
    std::atomic<bool> ready{true};
    service::limit_handler handler(w.keys, limiter, recorder, counters, ready);
    const auto users = static_cast<std::size_t>(state.range(0));
    const auto order = shuffled(users);
    std::size_t i = 0;
    auto now = std::chrono::steady_clock::now();
    for (auto _ : state) {
        now += std::chrono::microseconds(10);
        const auto result =
            handler.check(w.plain_keys[order[i]], now, std::chrono::system_clock::now());
        benchmark::DoNotOptimize(service::render(result));
        if (++i == users) i = 0;
    }
}
BENCHMARK(request)->Arg(100)->Arg(100'000);

}  // namespace

BENCHMARK_MAIN();
