#pragma once
// GETs to other nodes' admin APIs (usage summed over the cluster), several at once, each with
// a deadline: a node that does not answer in time is reported, never waited on longer.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rl::cluster {

struct member_reply {
    bool answered = false;  // a complete HTTP answer arrived in time
    long status = 0;
    std::string body;
    std::string error;  // why not, when !answered
};

// GET base_url + path_and_query with `Authorization: Bearer <token>` to every base URL at once;
// the replies in the same order.
std::vector<member_reply> get_all(const std::vector<std::string>& base_urls,
                                  const std::string& path_and_query, const std::string& token,
                                  std::chrono::milliseconds timeout);

}  // namespace rl::cluster
