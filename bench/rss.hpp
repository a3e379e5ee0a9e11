#pragma once
// Resident memory of this process, for the memory benchmarks.

#include <fstream>
#include <string>

namespace rl::bench {

// VmRSS from /proc/self/status, in KiB (-1 when unreadable).
inline long rss_kib() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

}  // namespace rl::bench
