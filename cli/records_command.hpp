#pragma once
// `rlctl export`, `rlctl import` of JSON lines, `rlctl backup` and `rlctl restore`: moving a
// whole catalog or database between installations. Progress goes to stderr when it is a
// terminal.

#include <string>

#include <nlohmann/json.hpp>

#include "cli/session.hpp"

namespace rl::cli {

// Pages through GET /v1/export and writes one JSON object per line to `output` ("-" or empty:
// stdout). Returns how many records were written.
std::size_t export_records(session& s, const std::string& output);

// True when `path` holds JSON lines rather than CSV: a .jsonl or .ndjson name, or '{' as the
// first character that is not white space.
bool is_json_lines(const std::string& path);

// Reads JSON lines and sends them to POST /v1/import/records in chunks, each one atomic write.
// Throws cli_error naming the line at fault; chunks before it stay imported, nothing of its own
// chunk is. Returns the summary: file, records.
nlohmann::json import_records_file(session& s, const std::string& path);

// POST /v1/backup; while it runs, polls `directory`'s size for the progress line when the
// directory is visible here. Returns the server's manifest.
nlohmann::json backup(session& s, const std::string& directory);

// Restores a backup into an empty or absent data directory, in this process.
nlohmann::json restore(const std::string& backup_dir, const std::string& data_dir);

}  // namespace rl::cli
