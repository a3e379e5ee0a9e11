#pragma once
// rlctl's command line: each command parses its arguments, calls the admin API and prints.

namespace rl::cli {

// Runs one rlctl invocation. Returns the exit status: 0 success, 1 failure, 2 bad usage.
// Never throws; every failure is one line on stderr.
int run(int argc, const char* const* argv);

}  // namespace rl::cli
