#pragma once
// The defaults of ratelimitd's options (and of rlctl's, which follow the server's): the config
// struct starts from them, the option parser and --help show them. Durations keep the unit they
// are written in here, which is the unit --help prints.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/time_text.hpp"

namespace rl::common::defaults {

inline constexpr std::string_view listen_host = "0.0.0.0";
inline constexpr std::uint16_t listen_port = 8080;
inline constexpr std::string_view admin_listen_host = "127.0.0.1";
inline constexpr std::uint16_t admin_listen_port = 8081;
inline constexpr std::string_view data_dir = "./data";
inline constexpr std::uint32_t default_limit = 10;
inline constexpr unsigned threads = 0;  // one per core
inline constexpr std::chrono::hours usage_retention_1s{48};
inline constexpr days usage_retention_1m{30};
inline constexpr days usage_retention_1h{400};
inline constexpr std::size_t max_connections = 10'000;
inline constexpr std::chrono::seconds idle_timeout{60};

}  // namespace rl::common::defaults
