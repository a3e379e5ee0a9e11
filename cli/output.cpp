#include "cli/output.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace rl::cli {

namespace {

using nlohmann::json;

// Labels may be UTF-8; counting code points keeps the columns straight for most of them.
std::size_t display_width(const std::string& text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

// A field as a cell: "-" for nothing, so every row has the same number of words for awk.
std::string cell(const json& object, const char* name, const char* missing = "-") {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return missing;
    if (it->is_string()) return it->get<std::string>().empty() ? "-" : it->get<std::string>();
    if (it->is_boolean()) return it->get<bool>() ? "yes" : "no";
    return it->dump();
}

std::string limit_cell(const json& user) {
    const std::string limit = cell(user, "limit");
    return user.value("default_limit", false) ? limit + " (default)" : limit;
}

}  // namespace

std::string format_table(const std::vector<column>& columns,
                         const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& c : columns) widths.push_back(display_width(c.title));
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));

    std::string out;
    auto add_row = [&](auto cell_at) {
        std::string line;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const std::string& text = cell_at(i);
            const std::string pad(widths[i] - display_width(text), ' ');
            if (i > 0) line += "  ";
            line += columns[i].numeric ? pad + text : text + pad;
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + '\n';
    };
    add_row([&](std::size_t i) -> const std::string& { return columns[i].title; });
    static const std::string empty;
    for (const auto& row : rows)
        add_row(
            [&](std::size_t i) -> const std::string& { return i < row.size() ? row[i] : empty; });
    return out;
}

std::string format_json(const json& document) {
    return document.dump(2) + '\n';
}

std::string format_users(const json& users) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& user : users)
        rows.push_back({cell(user, "name"), limit_cell(user), cell(user, "disabled"),
                        cell(user, "created_at")});
    return format_table({{"NAME"}, {"LIMIT"}, {"DISABLED"}, {"CREATED"}}, rows);
}

std::string format_keys(const json& keys) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& key : keys)
        rows.push_back({cell(key, "key_id"), cell(key, "user"), cell(key, "label"),
                        cell(key, "status"), cell(key, "created_at"),
                        cell(key, "expires_at", "never")});
    return format_table({{"KEY_ID"}, {"USER"}, {"LABEL"}, {"STATUS"}, {"CREATED"}, {"EXPIRES"}},
                        rows);
}

std::string format_created_key(const json& created) {
    return fmt::format(
        "{}\nkey_id {}  user {}  expires {}\nThis key is not shown again: store it now.\n",
        created.at("key").get<std::string>(), cell(created, "key_id"), cell(created, "user"),
        cell(created, "expires_at", "never"));
}

std::string format_usage(const json& report, const std::string& scope) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& bucket : report.at("buckets"))
        rows.push_back({cell(bucket, "start"), cell(bucket, "allowed"), cell(bucket, "rejected")});
    const json& total = report.at("total");
    rows.push_back({"TOTAL", cell(total, "allowed"), cell(total, "rejected")});
    return fmt::format("usage of {} from {} to {}, step {}\n", scope, cell(report, "since"),
                       cell(report, "until"), format_step(report.value("step", std::int64_t{0}))) +
           format_table({{"START"}, {"ALLOWED", true}, {"REJECTED", true}}, rows);
}

std::string format_step(std::int64_t seconds) {
    if (seconds > 0 && seconds % 86400 == 0) return fmt::format("{}d", seconds / 86400);
    if (seconds > 0 && seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
    if (seconds > 0 && seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
    return fmt::format("{}s", seconds);
}

}  // namespace rl::cli
