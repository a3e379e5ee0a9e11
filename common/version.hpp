#pragma once
// What --version prints and /metrics reports as build info.

#include <string>
#include <string_view>

namespace rl::common {

// The CMake project version, e.g. "0.1.0".
const char* version() noexcept;

// `git describe --always --dirty` when the build was configured, or "unknown" (no git, or a
// source tree without .git such as the Docker build context).
const char* revision() noexcept;

// "<program> 0.1.0 (git 353b3ae)": the first line of --version.
std::string version_line(std::string_view program);

}  // namespace rl::common
