#include "common/url.hpp"

#include <catch2/catch.hpp>

using rl::common::url_encode;

TEST_CASE("url_encode keeps unreserved characters and escapes the rest, '+' included") {
    CHECK(url_encode("alice.B_2-x~") == "alice.B_2-x~");
    CHECK(url_encode("we ird+name/x") == "we%20ird%2Bname%2Fx");
    CHECK(url_encode("2026-01-01T00:00:00+02:00") == "2026-01-01T00%3A00%3A00%2B02%3A00");
}
