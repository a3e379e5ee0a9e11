#include "common/api_key.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <regex>
#include <set>
#include <string>

namespace {

using namespace rl::common;

std::string hex_of(const key_hash& hash) {
    return to_hex(hash.data(), hash.size());
}

template <typename Predicate>
void check_each(Predicate predicate, bool expected, std::initializer_list<std::string> inputs) {
    for (const std::string& input : inputs) {
        CAPTURE(input);
        CHECK(predicate(input) == expected);
    }
}

}  // namespace

TEST_CASE("generated keys are rl_, a 10 hex digit route, _ and 32 base32 characters", "[api_key]") {
    static const std::regex shape("rl_[0-9a-f]{10}_[a-z2-7]{32}");
    for (const char* user : {"alice", "bob@example.com", "a", "x.y_z-1"}) {
        const std::string key = generate_api_key(user);
        CAPTURE(user, key);
        CHECK(std::regex_match(key, shape));
        CHECK(key.substr(3, 10) == route_of(user));
        CHECK(is_well_formed_key(key));
    }
}

TEST_CASE("the route is stable for a user and differs between users", "[api_key]") {
    CHECK(route_of("alice") == route_of("alice"));
    CHECK(route_of("alice") == hex_of(sha256("alice")).substr(0, 10));
    CHECK(route_of("alice") != route_of("Alice"));
    CHECK(generate_api_key("alice").substr(0, 14) == generate_api_key("alice").substr(0, 14));

    std::set<std::string> routes;
    for (int i = 0; i < 2000; ++i) routes.insert(route_of("user" + std::to_string(i)));
    CHECK(routes.size() == 2000);
}

TEST_CASE("generated keys are unique", "[api_key]") {
    std::set<std::string> keys;
    for (int i = 0; i < 10000; ++i) keys.insert(generate_api_key("alice"));
    CHECK(keys.size() == 10000);

    std::set<std::uint64_t> ids;
    for (int i = 0; i < 10000; ++i) ids.insert(random_u64());
    CHECK(ids.size() == 10000);
}

TEST_CASE("sha256 matches the FIPS 180-2 test vectors", "[api_key]") {
    CHECK(hex_of(sha256("abc")) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex_of(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex_of(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // Embedded NULs are data, not terminators.
    CHECK(sha256(std::string("a\0b", 3)) != sha256("a"));
}

TEST_CASE("to_hex writes two lowercase digits per byte", "[api_key]") {
    const std::uint8_t bytes[] = {0x00, 0x0a, 0xf0, 0xff};
    CHECK(to_hex(bytes, sizeof bytes) == "000af0ff");
    CHECK(to_hex(bytes, 0).empty());
}

TEST_CASE("a well-formed key is 1 to 256 visible ASCII characters", "[api_key]") {
    check_each(is_well_formed_key, true, {"a", "!~{}[]\"'`\\/", std::string(256, 'k')});
    check_each(is_well_formed_key, false,
               {"", std::string(257, 'k'), "has space", " leading", "tab\there", "line\n",
                std::string("nul\0", 4), "del\x7f", "caf\xc3\xa9"});
}

TEST_CASE("a valid user name is 1 to 64 of letters, digits and . _ @ -", "[api_key]") {
    check_each(is_valid_user_name, true,
               {"a", "Alice.Smith_1@example-corp.com", std::string(64, 'u')});
    check_each(is_valid_user_name, false,
               {"", std::string(65, 'u'), "two words", "slash/name", "colon:name", "quote\"name",
                "ctl\x01", std::string("nul\0", 4), "j\xc3\xbcrgen"});
}

TEST_CASE("key ids are 16 lowercase hex digits and parse back", "[api_key]") {
    CHECK(format_key_id(0) == "0000000000000000");
    CHECK(format_key_id(0x0123456789abcdefULL) == "0123456789abcdef");
    CHECK(format_key_id(UINT64_MAX) == "ffffffffffffffff");

    for (std::uint64_t id : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0xdeadbeef},
                             UINT64_MAX, random_u64(), random_u64()}) {
        CAPTURE(id);
        CHECK(parse_key_id(format_key_id(id)) == id);
    }
}

TEST_CASE("parse_key_id rejects anything but 16 lowercase hex digits", "[api_key]") {
    for (const char* text :
         {"", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", "0123456789abcdeg",
          "0x23456789abcdef", " 123456789abcdef", "-123456789abcdef", "0123456789abcde\n"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_key_id(text).has_value());
    }
}
