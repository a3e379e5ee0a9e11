#pragma once
// What rlctl prints: aligned tables for people, the server's JSON as is for scripts.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rl::cli {

struct column {
    std::string title;
    bool numeric = false;  // right-aligned
};

// A table printed a page at a time: the header once, above the first page; each column as wide
// as its widest cell so far, so a column only widens, and only where a later page needs it.
struct paged_table {
    std::vector<std::size_t> widths;
    bool header_printed = false;
};

// A header row and the rows below it, each column as wide as its widest cell; with `paging`,
// one page of a longer table.
std::string format_table(const std::vector<column>& columns,
                         const std::vector<std::vector<std::string>>& rows,
                         paged_table* paging = nullptr);

// One JSON document, indented, with a final newline.
std::string format_json(const nlohmann::json& document);

// Tables of the admin API's user, plan and key objects (arrays of them).
std::string format_users(const nlohmann::json& users, paged_table* paging = nullptr);
std::string format_plans(const nlohmann::json& plans, paged_table* paging = nullptr);
// One plan, field by field (with how many users follow it, when given).
std::string format_plan(const nlohmann::json& plan);
std::string format_keys(const nlohmann::json& keys, paged_table* paging = nullptr);

// A freshly created key: the key on a line of its own, then what identifies it.
std::string format_created_key(const nlohmann::json& created);

// A usage report (the body of GET /v1/usage) under a line saying what it covers. Tables and CSV
// (usage and top alike) get a shadow-limited column only when the total has some.
std::string format_usage(const nlohmann::json& report, const std::string& scope);

// The same report as CSV: a header row, then one row per step with requests (RFC 3339 start).
std::string format_usage_csv(const nlohmann::json& report);

// The same report as a bar chart of every step in the range (empty ones too), at most
// `max_columns` wide (steps are merged when there are more), `height` rows tall: allowed as full
// blocks, rejected stacked above them as light shade, the peak on the axis, no colour
// (shadow-limited requests are not charted).
std::string format_usage_chart(const nlohmann::json& report, const std::string& scope,
                               std::size_t max_columns = 64, std::size_t height = 10);

// The heaviest users (the body of GET /v1/usage/top): a table per ranking it holds.
std::string format_top(const nlohmann::json& top);
std::string format_top_csv(const nlohmann::json& top);

// The summary of `rlctl import` on one line.
std::string format_import_summary(const nlohmann::json& summary);

// A step in seconds as people write it: 60 -> "1m".
std::string format_step(std::int64_t seconds);

}  // namespace rl::cli
