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

// A header row and the rows below it, each column as wide as its widest cell.
std::string format_table(const std::vector<column>& columns,
                         const std::vector<std::vector<std::string>>& rows);

// One JSON document, indented, with a final newline.
std::string format_json(const nlohmann::json& document);

// Tables of the admin API's user and key objects (arrays of them).
std::string format_users(const nlohmann::json& users);
std::string format_keys(const nlohmann::json& keys);

// A freshly created key: the key on a line of its own, then what identifies it.
std::string format_created_key(const nlohmann::json& created);

// A usage report (the body of GET /v1/usage) under a line saying what it covers.
std::string format_usage(const nlohmann::json& report, const std::string& scope);

// A step in seconds as people write it: 60 -> "1m".
std::string format_step(std::int64_t seconds);

}  // namespace rl::cli
