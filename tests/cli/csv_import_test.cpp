#include "cli/csv_import.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using rl::cli::csv_error;
using rl::cli::csv_row;
using rl::cli::parse_csv;
using rl::cli::read_csv;

namespace {

using rows_text = std::vector<std::string>;

std::vector<std::size_t> error_lines(const rl::cli::csv_result& result) {
    std::vector<std::size_t> lines;
    for (const auto& e : result.errors) lines.push_back(e.line);
    return lines;
}

// "line user key limit" per row, so a whole file's rows compare in one CHECK with a readable diff.
rows_text describe(const std::vector<csv_row>& rows) {
    rows_text out;
    for (const auto& row : rows)
        out.push_back(std::to_string(row.line) + " " + row.user + " " + row.key + " " +
                      (row.limit ? std::to_string(*row.limit) : "-") +
                      (row.limits.empty() ? "" : " limits=" + row.limits) +
                      (row.plan.empty() ? "" : " plan=" + row.plan));
    return out;
}

// The rows of a file that must parse without a single error.
rows_text clean_rows(std::string_view text) {
    const auto result = parse_csv(text);
    for (const auto& e : result.errors) FAIL_CHECK("line " << e.line << ": " << e.message);
    return describe(result.rows);
}

}  // namespace

TEST_CASE("valid lines become rows with their line numbers") {
    CHECK(clean_rows("alice,key-one\nbob,key-two\n") ==
          rows_text{"1 alice key-one -", "2 bob key-two -"});
}

TEST_CASE("the optional third column is the user's limit; empty means none") {
    CHECK(clean_rows("alice,k1,25\nbob,k2,\ncarol,k3,100000\ndan,k4,007\n") ==
          rows_text{"1 alice k1 25", "2 bob k2 -", "3 carol k3 100000", "4 dan k4 7"});
}

TEST_CASE("a fourth column names a plan; a limit may be several, joined by ';'") {
    CHECK(clean_rows("user,key,limit,plan\nalice,k1,,free\nbob,k2,1m:100;1s:5\ncarol,k3,"
                     "day:1000\ndan,k4,7,\nerin,k5\n") ==
          rows_text{"2 alice k1 - plan=free", "3 bob k2 - limits=1s:5,1m:100",
                    "4 carol k3 - limits=day:1000", "5 dan k4 7", "6 erin k5 -"});
    const auto result = parse_csv(
        "a,k1,5,free\n"                                        // 1 both
        "b,k2,,bad plan\n"                                     // 2 plan name with a space
        "c,k3,1s:5;1s:6\n"                                     // 3 the same window twice
        "d,k4,2s:0\n"                                          // 4 quota 0
        "e,k5,day:x\n"                                         // 5 not a number
        "f,k6,1s:1;2s:2;3s:3;4s:4;5s:5;6s:6;7s:7;8s:8;9s:9\n"  // 6 more than 8
        "g,k7,1s:5;1m:rl_secret\n");                           // 7 never echoed
    CHECK(error_lines(result) == std::vector<std::size_t>{1, 2, 3, 4, 5, 6, 7});
    REQUIRE(result.errors.size() == 7);
    CHECK(result.errors[0].message == "give a limit or a plan, not both");
    CHECK(result.errors[1].message.find("invalid plan name") == 0);
    CHECK(result.errors[2].message.find("two limits on the window 1s") != std::string::npos);
    CHECK(result.errors[3].message.find("limit 1 of the line") == 0);
    CHECK(result.errors[5].message.find("at most 8 limits") != std::string::npos);
    CHECK(result.errors[6].message.find("limit 2 of the line") == 0);
    for (const auto& e : result.errors) CHECK(e.message.find("secret") == std::string::npos);
    CHECK(result.rows.empty());
}

TEST_CASE("blank lines and comments are skipped but still counted") {
    CHECK(clean_rows("\n# exported 2026-01-01\n   \n\talice,k1\n  # indented comment\nbob,k2") ==
          rows_text{"4 alice k1 -", "6 bob k2 -"});  // the last line needs no newline
}

TEST_CASE("a header is skipped only as the first line with content") {
    CHECK(clean_rows("# users\nUser, Key ,LIMIT\nalice,k1,3\n") == rows_text{"3 alice k1 3"});
    CHECK(clean_rows("user,key\nalice,k1\n") == rows_text{"2 alice k1 -"});
    // Later on it is an ordinary row (a user named "user" with the key "key").
    CHECK(clean_rows("alice,k1\nuser,key\n") == rows_text{"1 alice k1 -", "2 user key -"});
    // A header with an unknown third column is an error, not a header.
    CHECK(error_lines(parse_csv("user,key,quota\n")) == std::vector<std::size_t>{1});
}

TEST_CASE("CRLF line endings and a UTF-8 byte order mark are accepted") {
    CHECK(clean_rows("\xEF\xBB\xBFuser,key,limit\r\nalice,k1,7\r\n\r\nbob,k2\r\n") ==
          rows_text{"2 alice k1 7", "4 bob k2 -"});
    CHECK(clean_rows("\xEF\xBB\xBF"
                     "alice,k1\r\n") == rows_text{"1 alice k1 -"});
}

TEST_CASE("whitespace around fields is trimmed") {
    CHECK(clean_rows("  alice \t,\t k1  ,  9 \n") == rows_text{"1 alice k1 9"});
}

TEST_CASE("double-quoted fields may hold commas and quotes") {
    const auto result = parse_csv("\"alice\",\"k,1\"\"x\"\n bob , \"k2\" , \"3\"\n");
    REQUIRE(result.errors.empty());
    REQUIRE(result.rows.size() == 2);
    CHECK(result.rows[0].key == "k,1\"x");
    CHECK(describe(result.rows)[1] == "2 bob k2 3");
}

TEST_CASE("malformed lines are reported with their line numbers") {
    const std::string text =
        "user,key,limit\n"   // 1 header
        "alice,k1\n"         // 2 ok
        "only-one-field\n"   // 3 too few fields
        "bob,k2,,p,extra\n"  // 4 too many fields
        ",k3\n"              // 5 empty user
        "carol,\n"           // 6 empty key
        "dave,k4,many\n"     // 7 non-numeric limit
        "erin,k5,0\n"        // 8 limit below 1
        "frank,k6,100001\n"  // 9 limit above the maximum
        "gina,k7,-3\n"       // 10 signed limit
        "bad name,k8\n"      // 11 user name with a space
        "hank,has space\n"   // 12 key with a space
        "ivan,\"unclosed\n"  // 13 quote never closed
        "jane,\"k9\"x\n"     // 14 text after a closing quote
        "# comment\n"        // 15
        "kate,k10,4\n";      // 16 ok
    const auto result = parse_csv(text);
    CHECK(error_lines(result) == std::vector<std::size_t>{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
    REQUIRE(result.rows.size() == 2);
    CHECK(result.rows[0].line == 2);
    CHECK(result.rows[1].line == 16);
    CHECK(result.errors[0].message == "expected user,key[,limit[,plan]] but found 1 fields");
    CHECK(result.errors[1].message == "expected user,key[,limit[,plan]] but found 5 fields");
    CHECK(result.errors[2].message == "the user is empty");
    CHECK(result.errors[3].message == "the key is empty");
    CHECK(result.errors[4].message == "the limit must be a whole number from 1 to 100000");
}

TEST_CASE("error messages never repeat a field, which could be a secret key") {
    const auto result = parse_csv("rl_abc/secret,alice\nalice,k1,secret\n");
    REQUIRE(result.errors.size() == 2);
    for (const auto& e : result.errors) CHECK(e.message.find("secret") == std::string::npos);
}

TEST_CASE("a key too long to be valid is rejected") {
    const auto result =
        parse_csv("alice," + std::string(257, 'k') + "\nbob," + std::string(256, 'k') + "\n");
    CHECK(error_lines(result) == std::vector<std::size_t>{1});
    REQUIRE(result.rows.size() == 1);
    CHECK(result.rows[0].user == "bob");
}

TEST_CASE("read_csv hands rows over in chunks and keeps line numbers across them") {
    std::string text = "user,key\n";
    for (int i = 0; i < 12; ++i) text += "u" + std::to_string(i) + ",k" + std::to_string(i) + "\n";
    text += "broken\n";
    std::istringstream in(text);
    std::vector<std::size_t> chunk_sizes;
    std::vector<csv_row> all;
    std::vector<csv_error> errors;
    read_csv(
        in, 5,
        [&](std::vector<csv_row>& rows) {
            chunk_sizes.push_back(rows.size());
            all.insert(all.end(), rows.begin(), rows.end());
        },
        [&](const csv_error& e) { errors.push_back(e); });
    CHECK(chunk_sizes == std::vector<std::size_t>{5, 5, 2});
    REQUIRE(all.size() == 12);
    CHECK(all.front().line == 2);
    CHECK(all.back().line == 13);
    CHECK(all.back().user == "u11");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == 14);
}

TEST_CASE("read_csv and parse_csv agree") {
    const std::string text = "\xEF\xBB\xBF# c\r\nuser,key\r\na,k1,2\r\nb,k2\r\nbad\r\nc,\"k,3\"";
    const auto whole = parse_csv(text);
    std::istringstream in(text);
    std::vector<csv_row> rows;
    std::vector<csv_error> errors;
    read_csv(
        in, 2,
        [&](std::vector<csv_row>& chunk) { rows.insert(rows.end(), chunk.begin(), chunk.end()); },
        [&](const csv_error& e) { errors.push_back(e); });
    REQUIRE(rows.size() == whole.rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CHECK(rows[i].line == whole.rows[i].line);
        CHECK(rows[i].user == whole.rows[i].user);
        CHECK(rows[i].key == whole.rows[i].key);
        CHECK(rows[i].limit == whole.rows[i].limit);
    }
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == whole.errors[0].line);
}

TEST_CASE("arbitrary bytes never crash the parser") {
    std::string text;
    std::uint32_t state = 12345;
    const std::string alphabet = std::string("ab,\"\r\n #\t09") + '\0' + "\xEF\xBB\xBF\xFF";
    for (int i = 0; i < 20000; ++i) {
        state = state * 1103515245u + 12345u;
        text.push_back(alphabet[(state >> 16) % alphabet.size()]);
    }
    const auto result = parse_csv(text);
    for (const auto& row : result.rows) {
        CHECK_FALSE(row.user.empty());
        CHECK_FALSE(row.key.empty());
    }
    for (const auto& e : result.errors) CHECK(e.line >= 1);
}
