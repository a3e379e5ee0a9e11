#include "cli/records_command.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "storage/backup.hpp"

namespace rl::cli {

namespace {

using nlohmann::json;

constexpr std::size_t export_page = 1000;
constexpr std::size_t import_chunk = 1000;

// One line on stderr, rewritten in place; only on a terminal.
class progress_line {
public:
    void show(const std::string& text) {
        if (!enabled_) return;
        std::cerr << "\r\033[K" << text << std::flush;
        shown_ = true;
    }
    void clear() {
        if (!shown_) return;
        std::cerr << "\r\033[K" << std::flush;
        shown_ = false;
    }
    ~progress_line() { clear(); }

private:
    const bool enabled_ = ::isatty(STDERR_FILENO) == 1;
    bool shown_ = false;
};

std::string files_and_bytes(const storage::copy_progress& p) {
    const auto mib = [](std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
    if (p.total_files == 0) return fmt::format("{} files, {:.1f} MiB", p.files, mib(p.bytes));
    return fmt::format("{}/{} files, {:.1f}/{:.1f} MiB", p.files, p.total_files, mib(p.bytes),
                       mib(p.total_bytes));
}

}  // namespace

std::size_t export_records(session& s, const std::string& output) {
    std::ofstream file;
    const bool to_stdout = output.empty() || output == "-";
    if (!to_stdout) {
        file.open(output, std::ios::trunc);
        if (!file)
            throw cli_error(fmt::format("cannot write {}: {}", output, std::strerror(errno)));
    }
    std::ostream& out = to_stdout ? std::cout : file;
    progress_line progress;
    std::size_t written = 0;
    std::string cursor;
    do {
        std::string target = fmt::format("/v1/export?limit={}", export_page);
        if (!cursor.empty()) target += "&cursor=" + url_encode(cursor);
        const json page = s.request("GET", target);
        for (const auto& record : page.at("records")) out << record.dump() << '\n';
        written += page.at("records").size();
        const json& next = page.at("next_cursor");
        cursor = next.is_string() ? next.get<std::string>() : std::string();
        progress.show(fmt::format("exported {} records", written));
    } while (!cursor.empty());
    out.flush();
    if (!out) throw cli_error(fmt::format("cannot write {}", to_stdout ? "stdout" : output));
    return written;
}

bool is_json_lines(const std::string& path) {
    const auto ext = std::filesystem::path(path).extension();
    if (ext == ".jsonl" || ext == ".ndjson") return true;
    if (path == "-") return false;
    std::ifstream in(path, std::ios::binary);
    char c = 0;
    while (in.get(c))
        if (!std::isspace(static_cast<unsigned char>(c))) return c == '{';
    return false;
}

json import_records_file(session& s, const std::string& path) {
    std::ifstream file;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) throw cli_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    }
    std::istream& in = path == "-" ? std::cin : file;
    progress_line progress;
    std::size_t line_number = 0, imported = 0;
    std::vector<std::size_t> lines;  // the file line of each record in the chunk
    json chunk = json::array();

    auto refuse = [&](std::size_t line, const std::string& why) {
        progress.clear();
        throw cli_error(
            fmt::format("{}:{}: {}; the {} records before line {} are imported, none "
                        "from there on (importing the file again is safe)",
                        path, line, why, imported, lines.empty() ? line : lines.front()));
    };
    auto send = [&] {
        if (chunk.empty()) return;
        const client_response r = s.send("POST", "/v1/import/records", json{{"records", chunk}});
        if (r.status < 200 || r.status >= 300) {
            const bool indexed = r.body.is_object() && r.body.contains("record") &&
                                 r.body["record"].is_number_unsigned();
            const std::size_t at = indexed ? r.body["record"].get<std::size_t>() : 0;
            refuse(at < lines.size() ? lines[at] : lines.front(), session::detail_of(r));
        }
        imported += chunk.size();
        chunk = json::array();
        lines.clear();
        progress.show(fmt::format("imported {} records", imported));
    };

    std::string line;
    while (std::getline(in, line)) {
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json record = json::parse(line, nullptr, false);
        if (record.is_discarded()) refuse(line_number, "not a complete JSON object");
        if (!record.is_object() || !record.contains("type") || !record["type"].is_string())
            refuse(line_number, "a record is a JSON object with a \"type\"");
        const std::string type = record["type"];
        if (type != "plan" && type != "user" && type != "key")
            refuse(line_number, fmt::format("unknown record type '{}'", type));
        chunk.push_back(std::move(record));
        lines.push_back(line_number);
        if (chunk.size() == import_chunk) send();
    }
    if (in.bad()) throw cli_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    send();
    return json{{"file", path}, {"records", imported}};
}

json backup(session& s, const std::string& directory) {
    const std::string path = std::filesystem::absolute(directory).lexically_normal().string();
    // Polls the directory while the call runs, and stops when it returns or throws.
    struct poller {
        std::mutex m;
        std::condition_variable done_cv;
        bool done = false;
        progress_line progress;
        std::thread thread;

        explicit poller(const std::string& path)
            : thread([this, path] {
                  std::unique_lock lock(m);
                  while (!done_cv.wait_for(lock, std::chrono::milliseconds(200),
                                           [&] { return done; })) {
                      const auto size = storage::directory_size(path);
                      if (size.files > 0) progress.show("backup: " + files_and_bytes(size));
                  }
              }) {}
        ~poller() {
            {
                std::lock_guard lock(m);
                done = true;
            }
            done_cv.notify_one();
            thread.join();
            progress.clear();
        }
    };
    client_response r;
    {
        poller watch(path);
        r = s.send("POST", "/v1/backup", json{{"path", path}});
    }
    if (r.status < 200 || r.status >= 300) throw cli_error(session::detail_of(r));
    return r.body;
}

json restore(const std::string& backup_dir, const std::string& data_dir) {
    progress_line progress;
    try {
        const auto m = storage::restore_backup(backup_dir, data_dir, [&](const auto& p) {
            progress.show("restore: " + files_and_bytes(p));
        });
        progress.clear();
        return json{{"path", data_dir},
                    {"from", backup_dir},
                    {"schema_version", m.schema_version},
                    {"taken_at", common::format_rfc3339(m.taken_at)},
                    {"revision", m.revision},
                    {"sequence", m.sequence}};
    } catch (const storage::storage_error& e) {
        progress.clear();
        throw cli_error(e.what());
    }
}

}  // namespace rl::cli
