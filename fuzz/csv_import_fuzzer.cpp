// The `rlctl import` CSV parser on arbitrary text: whole-file and line-by-line parsing must agree,
// every row it accepts must be valid, and every line is accounted for at most once.

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "admin/catalog.hpp"
#include "cli/csv_import.hpp"
#include "common/api_key.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const rl::cli::csv_result whole = rl::cli::parse_csv(text);

    std::size_t lines = 1;
    for (char c : text) lines += c == '\n';
    if (whole.rows.size() + whole.errors.size() > lines) std::abort();
    for (const auto& row : whole.rows) {
        if (!rl::common::is_valid_user_name(row.user)) std::abort();
        if (!rl::common::is_well_formed_key(row.key)) std::abort();
        if (row.limit && (*row.limit < 1 || *row.limit > rl::admin::max_limit)) std::abort();
        if (row.line < 1 || row.line > lines) std::abort();
    }

    std::istringstream in(text);
    std::size_t streamed_rows = 0;
    std::size_t streamed_errors = 0;
    rl::cli::read_csv(
        in, 3, [&](std::vector<rl::cli::csv_row>& rows) { streamed_rows += rows.size(); },
        [&](const rl::cli::csv_error&) { ++streamed_errors; });
    if (streamed_rows != whole.rows.size() || streamed_errors != whole.errors.size()) std::abort();
    return 0;
}
