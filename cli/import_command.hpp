#pragma once
// `rlctl import FILE`: a CSV file of user,key[,limit] lines, checked in full before anything is
// written (one malformed line and nothing is imported), then sent to POST /v1/import in chunks.
// Line errors go to stderr as they are found, progress too when stderr is a terminal.

#include <string>

#include <nlohmann/json.hpp>

#include "cli/session.hpp"

namespace rl::cli {

// Imports `path` ("-" for stdin) and returns the summary: file, rows, errors (rows the server
// refused) and the server's users_created, users_updated, keys_imported, keys_unchanged.
// Throws cli_error when the file is malformed or unreadable, or a chunk is refused as a whole.
nlohmann::json import_file(session& s, const std::string& path);

}  // namespace rl::cli
