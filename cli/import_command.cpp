#include "cli/import_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/csv_import.hpp"

namespace rl::cli {

namespace {

using nlohmann::json;

class file_import {
public:
    static constexpr std::size_t chunk_rows = 5000;
    static constexpr std::size_t errors_shown = 20;

    file_import(session& s, std::string path) : session_(s), path_(std::move(path)) {}

    json run() {
        std::unique_ptr<std::istream> in = open();
        check_whole_file(*in);
        in->clear();
        in->seekg(0);
        if (!*in) throw cli_error(fmt::format("cannot read {} a second time", path_));
        read_csv(
            *in, chunk_rows, [&](std::vector<csv_row>& rows) { send(rows); },
            [&](const csv_error& e) { report(e.line, e.message); });
        if (in->bad())
            throw cli_error(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
        clear_progress();
        json summary{{"file", path_}, {"rows", done_rows_}, {"errors", errors_}};
        summary.update(totals_);
        return summary;
    }

private:
    // Two passes need a file we can rewind; anything else (a pipe, stdin) is read into memory.
    std::unique_ptr<std::istream> open() const {
        if (path_ == "-") return std::make_unique<std::istringstream>(slurp(std::cin));
        std::error_code ec;
        const bool regular = std::filesystem::is_regular_file(path_, ec);
        auto file = std::make_unique<std::ifstream>(path_, std::ios::binary);
        if (!*file) throw cli_error(fmt::format("cannot open {}: {}", path_, std::strerror(errno)));
        if (regular) return file;
        return std::make_unique<std::istringstream>(slurp(*file));
    }

    static std::string slurp(std::istream& in) {
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }

    void check_whole_file(std::istream& in) {
        read_csv(
            in, chunk_rows, [&](std::vector<csv_row>& rows) { total_rows_ += rows.size(); },
            [&](const csv_error& e) { report(e.line, e.message); });
        if (in.bad())
            throw cli_error(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
        if (errors_ > 0)
            throw cli_error(fmt::format("{}: {} malformed line{}; nothing was imported", path_,
                                        errors_, errors_ == 1 ? "" : "s"));
    }

    void send(std::vector<csv_row>& rows) {
        json batch = json::array();
        for (auto& row : rows) {
            json item{{"user", std::move(row.user)}, {"key", std::move(row.key)}};
            if (row.limit) item["limit"] = *row.limit;
            if (!row.limits.empty()) item["limits"] = std::move(row.limits);
            if (!row.plan.empty()) item["plan"] = std::move(row.plan);
            batch.push_back(std::move(item));
        }
        const client_response response = session_.send("POST", "/v1/import", json{{"rows", batch}});
        if (response.status < 200 || response.status >= 300) {
            clear_progress();
            throw cli_error(fmt::format(
                "import stopped at {}:{}: {}; the {} rows before it are imported, and importing "
                "the same file again is safe",
                path_, rows.front().line, session::detail_of(response), done_rows_));
        }
        const json& summary = response.body;
        for (auto& [field, total] : totals_.items())
            total = total.get<std::uint64_t>() + summary.value(field, std::uint64_t{0});
        for (const auto& error : summary.value("errors", json::array())) {
            const auto index = error.value("row", std::size_t{0});
            report(index < rows.size() ? rows[index].line : 0, error.value("error", "rejected"));
        }
        done_rows_ += rows.size();
        show_progress();
    }

    void report(std::size_t line, const std::string& message) {
        ++errors_;
        if (errors_ > errors_shown + 1) return;
        clear_progress();
        if (errors_ > errors_shown)
            std::cerr << "(further errors are counted, not shown)\n";
        else
            std::cerr << fmt::format("{}:{}: {}\n", path_, line, message);
    }

    void show_progress() {
        if (!progress_) return;
        std::cerr << fmt::format("\r imported {}/{} rows", done_rows_, total_rows_) << std::flush;
        progress_shown_ = true;
    }

    void clear_progress() {
        if (!progress_shown_) return;
        std::cerr << "\r\033[K" << std::flush;
        progress_shown_ = false;
    }

    session& session_;
    std::string path_;
    std::size_t total_rows_ = 0;
    std::size_t done_rows_ = 0;
    std::size_t errors_ = 0;
    json totals_ = {
        {"users_created", 0}, {"users_updated", 0}, {"keys_imported", 0}, {"keys_unchanged", 0}};
    const bool progress_ = ::isatty(STDERR_FILENO) == 1;
    bool progress_shown_ = false;
};

}  // namespace

json import_file(session& s, const std::string& path) {
    return file_import(s, path).run();
}

}  // namespace rl::cli
