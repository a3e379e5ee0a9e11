#pragma once
// The bulk import file of `rlctl import`: lines `user,key[,limit[,plan]]`, read line by line so a
// file of millions of lines is never held in memory. Parsing is pure, so it can be tested and
// fuzzed.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rl::cli {

struct csv_row {
    std::size_t line = 0;  // 1-based, for messages that point into the file
    std::string user;
    std::string key;
    std::optional<std::uint32_t> limit;  // a bare N: own 1s:N
    std::string limits;  // own limits written WINDOW:Q joined by ';' (canonical, ','-joined here)
    std::string plan;    // follow this plan; all three empty: the user keeps (or gets) the default
};

// Messages never quote a field: a swapped column would put a secret key on the terminal.
struct csv_error {
    std::size_t line = 0;
    std::string message;
};

struct csv_result {
    std::vector<csv_row> rows;
    std::vector<csv_error> errors;
};

// Rules: blank lines and lines starting with '#' are skipped; so is a header
// `user,key[,limit[,plan]]` as the first line with content. Fields are trimmed and may be
// double-quoted as in RFC 4180. A line must have a valid user name, a well-formed key and, if
// present, a limit: N from 1 to admin::max_limit, or limits like `1s:5;1m:100` (';' between
// them); or a plan name instead (the limit then empty); anything else is an error naming the
// line.
class csv_scanner {
public:
    // Takes the next line of the file (a trailing "\r" or "\n" is ignored) and adds the row or
    // the error it holds to `out`.
    void feed(std::string_view line, csv_result& out);

    std::size_t lines_read() const noexcept { return line_; }

private:
    std::size_t line_ = 0;
    bool content_seen_ = false;  // a header is only recognised before the first row
};

// A whole file at once: for tests, fuzzing and small inputs.
csv_result parse_csv(std::string_view text);

// Reads `in` to the end, handing rows over in chunks of at most `chunk_rows` and errors as they
// come; `on_chunk` may move the rows out.
void read_csv(std::istream& in, std::size_t chunk_rows,
              const std::function<void(std::vector<csv_row>&)>& on_chunk,
              const std::function<void(const csv_error&)>& on_error);

}  // namespace rl::cli
