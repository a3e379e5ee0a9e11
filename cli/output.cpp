#include "cli/output.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/time_text.hpp"

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

// Fields are never quoted: times, names (A-Z a-z 0-9 . _ @ -) and counts need no quoting.
// Lines end in \n rather than RFC 4180's \r\n, as shell tools expect.
std::string format_csv(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows) {
    std::string out;
    auto add_row = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + row[i];
        out += '\n';
    };
    add_row(header);
    for (const auto& row : rows) add_row(row);
    return out;
}

// Whether a usage report or ranking counted any shadow-limited requests: only then do tables and
// CSV get a shadow column, so output without shadow mode stays as it was.
bool shows_shadow(const json& document) {
    const auto total = document.find("total");
    if (total == document.end() || !total->is_object()) return false;
    const auto shadow = total->find("shadow_limited");
    return shadow != total->end() && shadow->is_number() && shadow->get<double>() > 0;
}

// The (start, allowed, rejected[, shadow_limited]) cells of a usage report's buckets.
std::vector<std::vector<std::string>> usage_rows(const json& report, bool shadow) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& bucket : report.at("buckets")) {
        rows.push_back({cell(bucket, "start"), cell(bucket, "allowed"), cell(bucket, "rejected")});
        if (shadow) rows.back().push_back(cell(bucket, "shadow_limited", "0"));
    }
    return rows;
}

std::string usage_title(const json& report, const std::string& scope) {
    return fmt::format("usage of {} from {} to {}, step {}\n", scope, cell(report, "since"),
                       cell(report, "until"), format_step(report.value("step", std::int64_t{0})));
}

// One ranking of GET /v1/usage/top as rows: rank, user, allowed, rejected[, shadow_limited].
std::vector<std::vector<std::string>> top_rows(const json& ranking, bool shadow) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& user : ranking) {
        rows.push_back({std::to_string(rows.size() + 1), cell(user, "user"), cell(user, "allowed"),
                        cell(user, "rejected")});
        if (shadow) rows.back().push_back(cell(user, "shadow_limited", "0"));
    }
    return rows;
}

// The rankings GET /v1/usage/top may hold: its field, the word `--by` and CSV use, and what
// the table's title ranks by.
struct ranking_kind {
    const char* field;
    const char* by;
    const char* title;
};
constexpr ranking_kind rankings[] = {{"by_admitted", "admitted", "admitted"},
                                     {"by_rejected", "rejected", "rejected"},
                                     {"by_shadow", "shadow", "shadow-limited"}};

// The limits of a user or plan, comma-joined: "1s:10,1m:300".
std::string limits_cell(const json& object) {
    const auto it = object.find("limits");
    if (it == object.end() || !it->is_array() || it->empty()) return "-";
    std::string out;
    for (const auto& l : *it) out += (out.empty() ? "" : ",") + l.get<std::string>();
    return out;
}

// The plan a user follows, or "(own)" for limits of their own.
std::string plan_cell(const json& user) {
    return cell(user, "plan", "(own)");
}

}  // namespace

std::string format_table(const std::vector<column>& columns,
                         const std::vector<std::vector<std::string>>& rows, paged_table* paging) {
    paged_table whole;
    paged_table& table = paging ? *paging : whole;
    std::vector<std::size_t>& widths = table.widths;
    if (widths.empty())
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
    if (!table.header_printed)
        add_row([&](std::size_t i) -> const std::string& { return columns[i].title; });
    table.header_printed = true;
    static const std::string empty;
    for (const auto& row : rows)
        add_row(
            [&](std::size_t i) -> const std::string& { return i < row.size() ? row[i] : empty; });
    return out;
}

std::string format_json(const json& document) {
    return document.dump(2) + '\n';
}

std::string format_import_summary(const json& summary) {
    const auto count = [&](const char* field) { return summary.at(field).get<std::uint64_t>(); };
    return fmt::format(
        "{}: {} rows; users {} created, {} updated; keys {} imported, {} unchanged; {} errors\n",
        summary.at("file").get<std::string>(), count("rows"), count("users_created"),
        count("users_updated"), count("keys_imported"), count("keys_unchanged"), count("errors"));
}

std::string format_users(const json& users, paged_table* paging) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& user : users)
        rows.push_back({cell(user, "name"), plan_cell(user), limits_cell(user),
                        cell(user, "disabled"), cell(user, "created_at")});
    return format_table({{"NAME"}, {"PLAN"}, {"LIMITS"}, {"DISABLED"}, {"CREATED"}}, rows, paging);
}

std::string format_plans(const json& plans, paged_table* paging) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& plan : plans)
        rows.push_back({cell(plan, "name"), limits_cell(plan), cell(plan, "shadow"),
                        plan.value("builtin", false) ? "built-in" : cell(plan, "updated_at")});
    return format_table({{"NAME"}, {"LIMITS"}, {"SHADOW"}, {"UPDATED"}}, rows, paging);
}

std::string format_plan(const json& plan) {
    std::string out =
        fmt::format("plan     {}{}\nlimits   {}\nshadow   {}\n", cell(plan, "name"),
                    plan.value("builtin", false) ? " (built-in, --default-limit)" : "",
                    limits_cell(plan), cell(plan, "shadow"));
    if (plan.contains("users")) out += fmt::format("users    {}\n", cell(plan, "users"));
    if (!plan.value("builtin", false))
        out += fmt::format("created  {}\nupdated  {}\n", cell(plan, "created_at"),
                           cell(plan, "updated_at"));
    return out;
}

std::string format_keys(const json& keys, paged_table* paging) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& key : keys)
        rows.push_back({cell(key, "key_id"), cell(key, "user"), cell(key, "label"),
                        cell(key, "status"), cell(key, "created_at"),
                        cell(key, "expires_at", "never")});
    return format_table({{"KEY_ID"}, {"USER"}, {"LABEL"}, {"STATUS"}, {"CREATED"}, {"EXPIRES"}},
                        rows, paging);
}

std::string format_created_key(const json& created) {
    return fmt::format(
        "{}\nkey_id {}  user {}  expires {}\nThis key is not shown again: store it now.\n",
        created.at("key").get<std::string>(), cell(created, "key_id"), cell(created, "user"),
        cell(created, "expires_at", "never"));
}

std::string format_usage(const json& report, const std::string& scope) {
    const bool shadow = shows_shadow(report);
    auto rows = usage_rows(report, shadow);
    const json& total = report.at("total");
    rows.push_back({"TOTAL", cell(total, "allowed"), cell(total, "rejected")});
    std::vector<column> columns = {{"START"}, {"ALLOWED", true}, {"REJECTED", true}};
    if (shadow) {
        rows.back().push_back(cell(total, "shadow_limited", "0"));
        columns.push_back({"SHADOW", true});
    }
    return usage_title(report, scope) + format_table(columns, rows);
}

std::string format_usage_csv(const json& report) {
    const bool shadow = shows_shadow(report);
    std::vector<std::string> header = {"start", "allowed", "rejected"};
    if (shadow) header.push_back("shadow_limited");
    return format_csv(header, usage_rows(report, shadow));
}

std::string format_usage_chart(const json& report, const std::string& scope,
                               std::size_t max_columns, std::size_t height) {
    using common::unix_seconds;
    const std::int64_t step = std::max<std::int64_t>(1, report.value("step", std::int64_t{1}));
    const auto since = common::parse_rfc3339(report.value("since", ""));
    const auto until = common::parse_rfc3339(report.value("until", ""));
    std::string out = usage_title(report, scope);
    if (!since || !until || *until < *since) return out + "(no range to chart)\n";

    // Every step of the range, merged `per_column` at a time to fit.
    const unix_seconds first = common::floor_to(*since, step);
    const auto steps = static_cast<std::size_t>((*until - first) / step + 1);
    const std::size_t per_column = (steps + max_columns - 1) / max_columns;
    const std::size_t columns = (steps + per_column - 1) / per_column;
    std::vector<std::uint64_t> allowed(columns), rejected(columns);
    for (const auto& bucket : report.at("buckets")) {
        const auto start = common::parse_rfc3339(bucket.value("start", ""));
        if (!start || *start < first) continue;
        const auto column = static_cast<std::size_t>((*start - first) / step) / per_column;
        if (column >= columns) continue;
        allowed[column] += bucket.value("allowed", std::uint64_t{0});
        rejected[column] += bucket.value("rejected", std::uint64_t{0});
    }
    std::uint64_t peak = 0;
    for (std::size_t c = 0; c < columns; ++c) peak = std::max(peak, allowed[c] + rejected[c]);
    if (peak == 0) return out + "(no requests in this range)\n";

    // Cells per column, rounded, but never zero for a column with requests.
    auto cells = [&](std::uint64_t n) -> std::size_t {
        if (n == 0) return 0;
        return std::max<std::size_t>(
            1, static_cast<std::size_t>((static_cast<double>(n) * static_cast<double>(height)) /
                                            static_cast<double>(peak) +
                                        0.5));
    };
    const std::string top_label = std::to_string(peak);
    const std::size_t gutter = top_label.size();
    for (std::size_t row = height; row >= 1; --row) {
        out += row == height ? top_label : std::string(gutter, ' ');
        out += row == height ? " ┤" : " │";
        for (std::size_t c = 0; c < columns; ++c) {
            const std::size_t a = cells(allowed[c]), t = cells(allowed[c] + rejected[c]);
            out += row <= a ? "█" : row <= t ? "░" : " ";
        }
        while (out.back() == ' ') out.pop_back();
        out += '\n';
    }
    out += std::string(gutter - 1, ' ') + "0 └";
    for (std::size_t c = 0; c < columns; ++c) out += "─";
    out += '\n';
    const std::string left = common::format_rfc3339(first);
    const std::string right = common::format_rfc3339(
        first + static_cast<unix_seconds>((columns - 1) * per_column) * step);
    // The first column's start under it, the last one's under the end when both fit.
    const std::string indent(gutter + 2, ' ');
    if (columns >= left.size() + right.size() + 2)
        out += indent + left + std::string(columns - left.size() - right.size(), ' ') + right;
    else
        out += indent + left + " to " + right;
    return out + fmt::format("\n{}one column = {}  █ allowed  ░ rejected\n", indent,
                             format_step(step * static_cast<std::int64_t>(per_column)));
}

std::string format_top(const json& top) {
    const bool shadow = shows_shadow(top);
    std::vector<column> columns = {{"RANK", true}, {"USER"}, {"ALLOWED", true}, {"REJECTED", true}};
    if (shadow) columns.push_back({"SHADOW", true});
    std::string out;
    for (const ranking_kind& ranking : rankings) {
        if (!top.contains(ranking.field)) continue;
        if (!out.empty()) out += '\n';
        out += fmt::format("heaviest users by {} from {} to {}\n", ranking.title,
                           cell(top, "since"), cell(top, "until"));
        out += top.at(ranking.field).empty()
                   ? std::string("(none)\n")
                   : format_table(columns, top_rows(top.at(ranking.field), shadow));
    }
    return out;
}

std::string format_top_csv(const json& top) {
    const bool shadow = shows_shadow(top);
    std::vector<std::vector<std::string>> rows;
    for (const ranking_kind& ranking : rankings) {
        if (!top.contains(ranking.field)) continue;
        for (auto& row : top_rows(top.at(ranking.field), shadow)) {
            row.insert(row.begin(), ranking.by);
            rows.push_back(std::move(row));
        }
    }
    std::vector<std::string> header = {"by", "rank", "user", "allowed", "rejected"};
    if (shadow) header.push_back("shadow_limited");
    return format_csv(header, rows);
}

std::string format_step(std::int64_t seconds) {
    if (seconds > 0 && seconds % 86400 == 0) return fmt::format("{}d", seconds / 86400);
    if (seconds > 0 && seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
    if (seconds > 0 && seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
    return fmt::format("{}s", seconds);
}

}  // namespace rl::cli
