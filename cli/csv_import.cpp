#include "cli/csv_import.hpp"

#include <fmt/format.h>

#include "admin/catalog.hpp"
#include "common/api_key.hpp"
#include "common/text.hpp"
#include "limiter/policy.hpp"

namespace rl::cli {

namespace {

constexpr std::string_view blanks = " \t";
constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";

bool equals_lowercase(std::string_view text, std::string_view lower) {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] + 32) : text[i];
        if (c != lower[i]) return false;
    }
    return true;
}

// Splits one line into trimmed fields; nullopt and `why` set when a quoted field is broken.
std::optional<std::vector<std::string>> split_fields(std::string_view line, std::string& why) {
    std::vector<std::string> fields;
    std::size_t i = 0;
    while (true) {
        while (i < line.size() && blanks.find(line[i]) != std::string_view::npos) ++i;
        std::string field;
        if (i < line.size() && line[i] == '"') {
            bool closed = false;
            for (++i; i < line.size() && !closed; ++i) {
                if (line[i] != '"') {
                    field.push_back(line[i]);
                } else if (i + 1 < line.size() && line[i + 1] == '"') {
                    field.push_back('"');
                    ++i;
                } else {
                    closed = true;
                }
            }
            if (!closed) {
                why = "a quoted field is not closed";
                return std::nullopt;
            }
            while (i < line.size() && blanks.find(line[i]) != std::string_view::npos) ++i;
            if (i < line.size() && line[i] != ',') {
                why = "unexpected text after a quoted field";
                return std::nullopt;
            }
        } else {
            const std::size_t end = std::min(line.find(',', i), line.size());
            field = std::string(common::trim(line.substr(i, end - i), blanks));
            i = end;
        }
        fields.push_back(std::move(field));
        if (i >= line.size()) return fields;
        ++i;  // the comma; a trailing one still leaves an empty last field
    }
}

bool is_header(const std::vector<std::string>& fields) {
    return fields.size() >= 2 && fields.size() <= 4 && equals_lowercase(fields[0], "user") &&
           equals_lowercase(fields[1], "key") &&
           (fields.size() < 3 || equals_lowercase(fields[2], "limit")) &&
           (fields.size() < 4 || equals_lowercase(fields[3], "plan"));
}

}  // namespace

void csv_scanner::feed(std::string_view line, csv_result& out) {
    ++line_;
    if (line_ == 1 && line.substr(0, utf8_bom.size()) == utf8_bom)
        line.remove_prefix(utf8_bom.size());
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    const std::string_view content = common::trim(line, blanks);
    if (content.empty() || content.front() == '#') return;

    const bool first_content = !content_seen_;
    content_seen_ = true;
    auto fail = [&](std::string message) { out.errors.push_back({line_, std::move(message)}); };

    std::string why;
    auto fields = split_fields(content, why);
    if (!fields) return fail(why);
    if (first_content && is_header(*fields)) return;
    if (fields->size() < 2 || fields->size() > 4)
        return fail(
            fmt::format("expected user,key[,limit[,plan]] but found {} fields", fields->size()));

    csv_row row;
    row.line = line_;
    row.user = std::move((*fields)[0]);
    row.key = std::move((*fields)[1]);
    if (row.user.empty()) return fail("the user is empty");
    if (row.key.empty()) return fail("the key is empty");
    if (!common::is_valid_user_name(row.user))
        return fail("invalid user name: use 1-64 of A-Z a-z 0-9 . _ @ -");
    if (!common::is_well_formed_key(row.key))
        return fail(fmt::format("the key must be 1-{} visible ASCII characters (no spaces)",
                                common::max_key_length));
    const std::string& limit = fields->size() >= 3 ? (*fields)[2] : std::string();
    if (fields->size() == 4) {
        row.plan = (*fields)[3];
        if (!row.plan.empty() && !common::is_valid_user_name(row.plan))
            return fail("invalid plan name: use 1-64 of A-Z a-z 0-9 . _ @ -");
        if (!row.plan.empty() && !limit.empty()) return fail("give a limit or a plan, not both");
    }
    if (limit.find(':') != std::string::npos || limit.find(';') != std::string::npos) {
        std::vector<std::string> parts;
        for (std::size_t start = 0;;) {
            const std::size_t end = limit.find(';', start);
            parts.emplace_back(common::trim(
                std::string_view(limit).substr(start, end == std::string::npos ? end : end - start),
                blanks));
            if (end == std::string::npos) break;
            start = end + 1;
        }
        std::vector<limiter::limit> limits;
        for (const auto& part : parts) {
            auto one = limiter::parse_limit(part);
            // The text is not quoted back: a swapped column would put a key on the terminal.
            if (!one)
                return fail(fmt::format(
                    "limit {} of the line is not N or WINDOW:Q (1s:5, 1m:100, day:1000, ...)",
                    limits.size() + 1));
            limits.push_back(*one.value);
        }
        auto policy = limiter::make_policy(std::move(limits));
        if (!policy) return fail("the limits: " + policy.error);
        row.limits = limiter::to_string(*policy.value);
    } else if (!limit.empty()) {
        row.limit = admin::parse_limit(limit);
        if (!row.limit)
            return fail(
                fmt::format("the limit must be a whole number from 1 to {}", admin::max_limit));
    }
    out.rows.push_back(std::move(row));
}

csv_result parse_csv(std::string_view text) {
    csv_result out;
    csv_scanner scanner;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        scanner.feed(text.substr(0, end), out);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
    return out;
}

void read_csv(std::istream& in, std::size_t chunk_rows,
              const std::function<void(std::vector<csv_row>&)>& on_chunk,
              const std::function<void(const csv_error&)>& on_error) {
    csv_scanner scanner;
    csv_result pending;
    std::string line;
    while (std::getline(in, line)) {
        scanner.feed(line, pending);
        for (const auto& error : pending.errors) on_error(error);
        pending.errors.clear();
        if (pending.rows.size() >= chunk_rows) {
            on_chunk(pending.rows);
            pending.rows.clear();
        }
    }
    if (!pending.rows.empty()) on_chunk(pending.rows);
}

}  // namespace rl::cli
