#include "common/flat_map.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <unordered_map>

using rl::common::flat_map;

namespace {

struct identity_hash {
    std::uint64_t operator()(std::uint64_t k) const noexcept { return k; }
};
// Every key hashes to the same slot: one long probe run, the hard case for deletion.
struct constant_hash {
    std::uint64_t operator()(std::uint64_t) const noexcept { return 0x8000'0000'0000'0000ull; }
};

template <typename Map>
void check_same(const Map& map, const std::unordered_map<std::uint64_t, int>& model) {
    REQUIRE(map.size() == model.size());
    for (const auto& [k, v] : model) {
        const int* found = map.find(k);
        REQUIRE(found != nullptr);
        CHECK(*found == v);
    }
    std::size_t visited = 0;
    map.for_each([&](std::uint64_t k, int v) {
        ++visited;
        CHECK(model.at(k) == v);
    });
    CHECK(visited == model.size());
}

template <typename Map>
void random_operations(std::uint64_t key_range, int operations) {
    Map map;
    std::unordered_map<std::uint64_t, int> model;
    std::mt19937_64 rng(42);
    for (int op = 0; op < operations; ++op) {
        const std::uint64_t k = 1 + rng() % key_range;
        switch (rng() % 4) {
            case 0:
            case 1:
                map[k] = op;
                model[k] = op;
                break;
            case 2: CHECK(map.erase(k) == (model.erase(k) == 1)); break;
            case 3: {
                const std::uint64_t m = 2 + rng() % 5;
                map.erase_if([m](std::uint64_t key, int) { return key % m == 0; });
                for (auto it = model.begin(); it != model.end();)
                    it = it->first % m == 0 ? model.erase(it) : std::next(it);
                break;
            }
        }
        if (op % 97 == 0) check_same(map, model);
    }
    check_same(map, model);
}

}  // namespace

TEST_CASE("flat_map finds what was inserted and nothing else", "[flat_map]") {
    flat_map<std::uint64_t, int, identity_hash> map;
    CHECK(map.find(7) == nullptr);
    CHECK_FALSE(map.erase(7));
    for (std::uint64_t k = 1; k <= 1000; ++k) map[k * 0x9E3779B97F4A7C15ull] = static_cast<int>(k);
    CHECK(map.size() == 1000);
    CHECK(map.capacity() * 3 >= map.size() * 4);  // the load factor stays at or below 3/4
    for (std::uint64_t k = 1; k <= 1000; ++k) {
        const int* v = map.find(k * 0x9E3779B97F4A7C15ull);
        REQUIRE(v != nullptr);
        CHECK(*v == static_cast<int>(k));
    }
    CHECK(map.find(12345) == nullptr);
}

TEST_CASE("flat_map reserve makes room without moving entries later", "[flat_map]") {
    flat_map<std::uint64_t, int, identity_hash> map;
    map.reserve(1'000);
    const std::size_t capacity = map.capacity();
    CHECK(capacity >= 1'000);
    CHECK(capacity < 1'400);  // not rounded up to a power of two
    for (std::uint64_t k = 1; k <= 1'000; ++k) map[k << 40] = 1;
    CHECK(map.capacity() == capacity);
}

TEST_CASE("flat_map matches std::unordered_map under random inserts and erases", "[flat_map]") {
    SECTION("spread hashes") {
        random_operations<flat_map<std::uint64_t, int, identity_hash>>(1 << 20, 20'000);
    }
    SECTION("dense keys, many collisions in a small table") {
        random_operations<flat_map<std::uint64_t, int, identity_hash>>(64, 20'000);
    }
    SECTION("every key in one probe run, wrapping round the end of the array") {
        random_operations<flat_map<std::uint64_t, int, constant_hash>>(40, 5'000);
    }
}
