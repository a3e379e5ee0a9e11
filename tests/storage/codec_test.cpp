#include "storage/codec.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <utility>

#include "storage/usage_merge_operator.hpp"

namespace {

using namespace rl::storage;
namespace codec = rl::storage::codec;

// Every decoder under one signature, so the malformed-input cases run against all of them.
struct decoder {
    const char* name;
    std::string valid;                                   // a canonical encoding
    std::function<bool(std::string_view)> accepts;       // decodes without complaint
    std::function<std::string(std::string_view)> round;  // decode then encode again
    // A shorter layout an older release wrote, still read; it encodes again in the current
    // layout (the old bytes, then zeros for the fields it lacks). 0: no older layout.
    std::size_t legacy_size = 0;
};

// What an accepted input encodes back to: itself, or an older layout padded to the current one.
std::string canonical(const decoder& d, std::string_view bytes) {
    std::string out(bytes);
    if (d.legacy_size != 0 && bytes.size() == d.legacy_size) out.resize(d.valid.size(), '\0');
    return out;
}

const key_hash some_hash = rl::common::sha256("rl_0123456789_secret");
const std::string some_hash_bytes(reinterpret_cast<const char*>(some_hash.data()),
                                  some_hash.size());

user_record sample_user() {
    return {"alice", "", "1s:25,1m:300", true, 1795815000};
}

plan_record sample_plan() {
    return {"free", "1s:5,day:1000", true, 1795815000, 1795816000};
}

key_record sample_key() {
    return {0x0123456789abcdefULL, some_hash, "alice", "ci runner", 1795815000, 1798407000, 0};
}

template <typename Decode, typename Encode>
decoder make_decoder(const char* name, std::string valid, Decode decode, Encode encode,
                     std::size_t legacy_size = 0) {
    return {name, std::move(valid),
            [decode](std::string_view bytes) { return decode(bytes).has_value(); },
            [decode, encode](std::string_view bytes) { return encode(*decode(bytes)); },
            legacy_size};
}

std::vector<decoder> all_decoders() {
    return {
        make_decoder(
            "user", codec::encode_user(sample_user()),
            [](std::string_view b) {
                return !b.empty() && b[0] == 1 ? std::nullopt : codec::decode_user("alice", b);
            },
            [](const user_record& u) { return codec::encode_user(u); }),
        // Format 1 reads canonically too: back through the format-1 encoder.
        make_decoder(
            "user format 1", codec::encode_user_format1(25, true, 1795815000),
            [](std::string_view b) {
                return b.empty() || b[0] != 1 ? std::nullopt : codec::decode_user("alice", b);
            },
            [](const user_record& u) {
                const auto limit = u.plan == "default"
                                       ? 0u
                                       : static_cast<std::uint32_t>(std::stoul(u.limits.substr(3)));
                return codec::encode_user_format1(limit, u.disabled, u.created_at);
            }),
        make_decoder(
            "plan", codec::encode_plan(sample_plan()),
            [](std::string_view b) { return codec::decode_plan("free", b); },
            [](const plan_record& p) { return codec::encode_plan(p); }),
        make_decoder(
            "key", codec::encode_key(sample_key()),
            [](std::string_view b) { return codec::decode_key(some_hash_bytes, b); },
            [](const key_record& k) { return codec::encode_key(k); }),
        make_decoder("key id", codec::encode_key_id(42), codec::decode_key_id,
                     [](std::uint64_t id) { return codec::encode_key_id(id); }),
        make_decoder(
            "usage key", codec::encode_usage_key(1795815000, 7), codec::decode_usage_key,
            [](const usage_bucket& b) { return codec::encode_usage_key(b.start, b.key_id); }),
        make_decoder(
            "usage value", codec::encode_usage_value({3, 4, 5}), codec::decode_usage_value,
            [](const usage_count& c) { return codec::encode_usage_value(c); },
            codec::usage_value_size_v1),
    };
}

std::string merged(const std::string* existing, const std::string& operand) {
    usage_merge_operator op;
    const rocksdb::Slice existing_slice = existing ? rocksdb::Slice(*existing) : rocksdb::Slice();
    std::string out;
    REQUIRE(op.Merge("key", existing ? &existing_slice : nullptr, operand, &out, nullptr));
    return out;
}

// (admitted, limited, shadow_limited) of an encoded usage value.
using counts = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>;
counts counts_of(const std::string& bytes) {
    const auto count = codec::decode_usage_value(bytes);
    REQUIRE(count.has_value());
    return {count->admitted, count->limited, count->shadow_limited};
}

// A usage value as releases before shadow mode wrote it: le64 admitted, le64 limited.
std::string old_usage_value(std::uint64_t admitted, std::uint64_t limited) {
    std::string out;
    for (const std::uint64_t v : {admitted, limited})
        for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<char>(v >> shift));
    return out;
}

}  // namespace

TEST_CASE("a user record survives encode and decode", "[codec]") {
    const user_record user = sample_user();
    const auto decoded = codec::decode_user(user.name, codec::encode_user(user));
    REQUIRE(decoded.has_value());
    CHECK(decoded->name == "alice");
    CHECK(decoded->plan.empty());
    CHECK(decoded->limits == "1s:25,1m:300");
    CHECK(decoded->disabled);
    CHECK(decoded->created_at == 1795815000);

    const user_record follower{"x", "free", "", false, -1};
    const auto back = codec::decode_user("x", codec::encode_user(follower));
    REQUIRE(back.has_value());
    CHECK(back->plan == "free");
    CHECK(back->limits.empty());
    CHECK_FALSE(back->disabled);
    CHECK(back->created_at == -1);
}

TEST_CASE("a format-1 user (schema 1) reads as the default plan or own 1s limits", "[codec]") {
    const auto own = codec::decode_user("alice", codec::encode_user_format1(25, true, 1795815000));
    REQUIRE(own.has_value());
    CHECK(own->plan.empty());
    CHECK(own->limits == "1s:25");
    CHECK(own->disabled);
    CHECK(own->created_at == 1795815000);

    const auto dflt = codec::decode_user("bob", codec::encode_user_format1(0, false, 7));
    REQUIRE(dflt.has_value());
    CHECK(dflt->plan == "default");
    CHECK(dflt->limits.empty());
    CHECK_FALSE(dflt->disabled);
    CHECK(dflt->created_at == 7);

    // Written back, it is format 2.
    CHECK(codec::encode_user(*own)[0] == 2);
    CHECK(codec::decode_user("alice", codec::encode_user(*own))->limits == "1s:25");

    std::string old = codec::encode_user_format1(25, false, 1);
    CHECK_FALSE(codec::decode_user("alice", old.substr(0, old.size() - 1)).has_value());
    CHECK_FALSE(codec::decode_user("alice", old + "x").has_value());
    old[5] = 1;  // a limit above 32 bits
    CHECK_FALSE(codec::decode_user("alice", old).has_value());
}

TEST_CASE("a plan record survives encode and decode", "[codec]") {
    const auto decoded = codec::decode_plan("free", codec::encode_plan(sample_plan()));
    REQUIRE(decoded.has_value());
    CHECK(decoded->name == "free");
    CHECK(decoded->limits == "1s:5,day:1000");
    CHECK(decoded->shadow);
    CHECK(decoded->created_at == 1795815000);
    CHECK(decoded->updated_at == 1795816000);
}

TEST_CASE("a key record survives encode and decode, hash taken from the key", "[codec]") {
    key_record key = sample_key();
    key.label = std::string("bytes \0 and \xff too", 17);
    key.revoked_at = 1795900000;
    const auto decoded = codec::decode_key(some_hash_bytes, codec::encode_key(key));
    REQUIRE(decoded.has_value());
    CHECK(decoded->key_id == key.key_id);
    CHECK(decoded->hash == some_hash);
    CHECK(decoded->user == "alice");
    CHECK(decoded->label == key.label);
    CHECK(decoded->created_at == key.created_at);
    CHECK(decoded->expires_at == key.expires_at);
    CHECK(decoded->revoked_at == key.revoked_at);
}

TEST_CASE("the stored key record holds no trace of the plain key", "[codec]") {
    const std::string plain = "rl_0123456789_secret";
    const std::string bytes = codec::encode_key(sample_key());
    CHECK(bytes.find(plain) == std::string::npos);
    CHECK(bytes.find("secret") == std::string::npos);
}

TEST_CASE("key ids and usage keys are big-endian so they sort by value", "[codec]") {
    CHECK(codec::encode_key_id(1) < codec::encode_key_id(256));
    CHECK(codec::encode_key_id(0xff) < codec::encode_key_id(0x100));
    CHECK(codec::decode_key_id(codec::encode_key_id(UINT64_MAX)) == UINT64_MAX);

    const std::string key = codec::encode_usage_key(1795815000, 7);
    CHECK(key.size() == codec::usage_key_size);
    CHECK(codec::encode_usage_key(1, UINT64_MAX) < codec::encode_usage_key(2, 0));
    CHECK(codec::encode_usage_key(255, 0) < codec::encode_usage_key(256, 0));
    CHECK(codec::encode_usage_key(5, 1) < codec::encode_usage_key(5, 2));

    const auto bucket = codec::decode_usage_key(key);
    REQUIRE(bucket.has_value());
    CHECK(bucket->start == 1795815000);
    CHECK(bucket->key_id == 7);
}

TEST_CASE("usage keys and values encode the same into a buffer as into a string", "[codec]") {
    char key[codec::usage_key_size];
    codec::encode_usage_key(-2, 0x0102030405060708ULL, key);
    CHECK(std::string(key, sizeof key) == codec::encode_usage_key(-2, 0x0102030405060708ULL));

    char value[codec::usage_value_size];
    codec::encode_usage_value({0x0a0b0c0d0e0f1011ULL, 7, 9}, value);
    CHECK(std::string(value, sizeof value) ==
          codec::encode_usage_value({0x0a0b0c0d0e0f1011ULL, 7, 9}));
    CHECK(codec::decode_usage_value(std::string_view(value, sizeof value))->admitted ==
          0x0a0b0c0d0e0f1011ULL);
}

TEST_CASE("usage counts survive encode and decode", "[codec]") {
    const std::string bytes = codec::encode_usage_value({UINT64_MAX, 12, 0x0102030405060708ULL});
    CHECK(bytes.size() == 24);
    CHECK(bytes.size() == codec::usage_value_size);
    // Little-endian, in the order admitted, limited, shadow_limited.
    CHECK(bytes.substr(16) == std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
    const auto count = codec::decode_usage_value(bytes);
    REQUIRE(count.has_value());
    CHECK(count->admitted == UINT64_MAX);
    CHECK(count->limited == 12);
    CHECK(count->shadow_limited == 0x0102030405060708ULL);
}

TEST_CASE("usage values written before shadow mode read with no shadow-limited requests",
          "[codec]") {
    const std::string old = old_usage_value(0x0a0b0c0d0e0f1011ULL, 7);
    REQUIRE(old.size() == codec::usage_value_size_v1);
    const auto count = codec::decode_usage_value(old);
    REQUIRE(count.has_value());
    CHECK(count->admitted == 0x0a0b0c0d0e0f1011ULL);
    CHECK(count->limited == 7);
    CHECK(count->shadow_limited == 0);
    // Written again, it takes the current layout.
    CHECK(codec::encode_usage_value(*count) == old + std::string(8, '\0'));
    // Neither layout with a partial field is read.
    CHECK_FALSE(codec::decode_usage_value(old.substr(0, 15)).has_value());
    CHECK_FALSE(codec::decode_usage_value(old + "\x01").has_value());
    CHECK_FALSE(codec::decode_usage_value(old + std::string(7, '\0')).has_value());
}

TEST_CASE("every decoder rejects truncated and extended input", "[codec]") {
    for (const decoder& d : all_decoders()) {
        CAPTURE(d.name);
        REQUIRE(d.accepts(d.valid));
        CHECK(d.round(d.valid) == d.valid);
        for (std::size_t size = 0; size < d.valid.size(); ++size) {
            CAPTURE(size);
            // An older, shorter layout is read on purpose, and written again in the current one.
            if (d.legacy_size != 0 && size == d.legacy_size) {
                CHECK(d.round(d.valid.substr(0, size)) == canonical(d, d.valid.substr(0, size)));
                continue;
            }
            CHECK_FALSE(d.accepts(d.valid.substr(0, size)));
        }
        CHECK_FALSE(d.accepts(d.valid + '\0'));
        CHECK_FALSE(d.accepts(d.valid + d.valid));
    }
}

TEST_CASE("every decoder either rejects random bytes or reads them canonically", "[codec]") {
    std::mt19937 rng(2026);
    std::uniform_int_distribution<int> byte(0, 255);
    const auto decoders = all_decoders();
    for (int i = 0; i < 5000; ++i) {
        std::string bytes(static_cast<std::size_t>(i % 80), '\0');
        for (char& c : bytes) c = static_cast<char>(byte(rng));
        if (i % 3 == 0 && !bytes.empty()) bytes[0] = 1;  // get past the format byte
        for (const decoder& d : decoders) {
            CAPTURE(d.name, i);
            if (d.accepts(bytes)) CHECK(d.round(bytes) == canonical(d, bytes));
        }
    }
}

TEST_CASE("record decoders reject values no encoder writes", "[codec]") {
    std::string user = codec::encode_user(sample_user());
    // format, le64 0 (plan ""), le64 12, "1s:25,1m:300", disabled, le64 created_at
    const std::size_t disabled_at = 1 + 8 + 8 + 12;
    REQUIRE(user.size() == disabled_at + 1 + 8);
    SECTION("an unknown format byte") {
        user[0] = 3;
        CHECK_FALSE(codec::decode_user("alice", user).has_value());
        user[0] = 0;
        CHECK_FALSE(codec::decode_user("alice", user).has_value());
    }
    SECTION("a disabled flag other than 0 or 1") {
        user[disabled_at] = 2;
        CHECK_FALSE(codec::decode_user("alice", user).has_value());
    }
    SECTION("both a plan and own limits, or neither") {
        CHECK_FALSE(codec::decode_user("a", codec::encode_user({"a", "free", "1s:5", false, 1}))
                        .has_value());
        CHECK_FALSE(
            codec::decode_user("a", codec::encode_user({"a", "", "", false, 1})).has_value());
    }
    SECTION("a user whose string length runs past the end") {
        user[1] = '\x7f';
        CHECK_FALSE(codec::decode_user("alice", user).has_value());
    }
    SECTION("a plan with no limits or a shadow flag other than 0 or 1") {
        CHECK_FALSE(
            codec::decode_plan("p", codec::encode_plan({"p", "", false, 1, 1})).has_value());
        std::string plan = codec::encode_plan(sample_plan());
        plan[1 + 8 + 13] = 2;  // after format, length, "1s:5,day:1000"
        CHECK_FALSE(codec::decode_plan("free", plan).has_value());
        plan[0] = 2;
        CHECK_FALSE(
            codec::decode_plan("free", codec::encode_plan(sample_plan()).replace(0, 1, "\x02"))
                .has_value());
    }
    SECTION("a key whose string length runs past the end") {
        std::string key = codec::encode_key(sample_key());
        key[9] = '\x7f';  // the user name's length, now huge
        CHECK_FALSE(codec::decode_key(some_hash_bytes, key).has_value());
    }
    SECTION("a key under a hash of the wrong size") {
        const std::string key = codec::encode_key(sample_key());
        CHECK_FALSE(codec::decode_key(some_hash_bytes.substr(1), key).has_value());
        CHECK_FALSE(codec::decode_key(some_hash_bytes + "x", key).has_value());
    }
}

TEST_CASE("the merge operator adds admitted, limited and shadow-limited counts", "[codec][merge]") {
    const std::string first = codec::encode_usage_value({3, 1, 2});
    const std::string second = codec::encode_usage_value({4, 5, 6});
    CHECK(counts_of(merged(nullptr, first)) == counts{3, 1, 2});
    CHECK(counts_of(merged(&first, second)) == counts{7, 6, 8});
    // The name is unchanged: the operator still adds what older releases wrote.
    CHECK(std::string(usage_merge_operator().Name()) == "rl.usage_count_add.v1");
}

TEST_CASE("the merge operator adds old 16-byte values to new ones into a 24-byte value",
          "[codec][merge]") {
    const std::string old = old_usage_value(3, 1);
    const std::string current = codec::encode_usage_value({4, 5, 6});
    struct merge_case {
        std::string existing, operand;
        counts sum;
    };
    for (const merge_case& c :
         {merge_case{old, current, {7, 6, 6}}, merge_case{current, old, {7, 6, 6}},
          merge_case{old, old, {6, 2, 0}}}) {
        const std::string out = merged(&c.existing, c.operand);
        CHECK(out.size() == codec::usage_value_size);
        CHECK(counts_of(out) == c.sum);
    }
    const std::string alone = merged(nullptr, old);
    CHECK(alone.size() == codec::usage_value_size);
    CHECK(counts_of(alone) == counts{3, 1, 0});
}

TEST_CASE("the merge operator counts a malformed operand as zero", "[codec][merge]") {
    const std::string good = codec::encode_usage_value({3, 1, 4});
    const std::string bad = "not a count";
    CHECK(counts_of(merged(&good, bad)) == counts{3, 1, 4});
    CHECK(counts_of(merged(&bad, good)) == counts{3, 1, 4});
    CHECK(counts_of(merged(&bad, "")) == counts{0, 0, 0});
    CHECK(counts_of(merged(nullptr, bad)) == counts{0, 0, 0});
}
