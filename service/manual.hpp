#pragma once
// ratelimitd --help: the man page's text; the options come from the parser.

#include "common/man_page.hpp"

namespace rl::service {

common::man_page ratelimitd_manual();

}  // namespace rl::service
