#pragma once
// The files ratelimitd keeps next to RocksDB in its data directory, read by rlctl (and the tests)
// to find and authenticate to the server that holds the directory.

#include <string>
#include <string_view>

namespace rl::common {

// The admin bearer token, one line, mode 0600; written only when RL_ADMIN_TOKEN is unset.
inline constexpr std::string_view admin_token_file = "admin.token";
// The read-only admin token (GET routes and /metrics), the same way; written only when
// RL_ADMIN_READONLY_TOKEN is unset.
inline constexpr std::string_view admin_readonly_token_file = "admin.readonly.token";
// The admin API's base URL, one line, rewritten at every start.
inline constexpr std::string_view admin_url_file = "admin.url";

inline std::string data_dir_file(std::string_view data_dir, std::string_view name) {
    std::string path(data_dir);
    path += '/';
    path += name;
    return path;
}

}  // namespace rl::common
