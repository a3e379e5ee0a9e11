#pragma once
// rlctl --help: the man page's text; options and commands come from the parser.

#include "common/man_page.hpp"

namespace rl::cli {

common::man_page rlctl_manual();

}  // namespace rl::cli
