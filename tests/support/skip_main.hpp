#pragma once
// main() for test executables that cannot run everywhere (a program from Debian, root): each
// defines skip_reason(), and a non-empty reason is printed and the executable exits 77, which
// CTest reports as skipped, never as passed.

#include <string>

namespace rl::testing {

// Why the tests cannot run here, or empty when they can.
std::string skip_reason();

}  // namespace rl::testing
