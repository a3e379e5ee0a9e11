#pragma once
// A plain TCP connection to 127.0.0.1 for tests that send what no HTTP client would: oversized
// or broken requests, pipelines, half-sent headers.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rl::testing {

struct raw_response {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
};

// Consecutive HTTP/1.x responses with Content-Length bodies (what ratelimitd sends); stops at
// the first incomplete one. `consumed` gets the bytes they took.
std::vector<raw_response> parse_responses(std::string_view bytes, std::size_t* consumed = nullptr);

class raw_connection {
public:
    explicit raw_connection(int port);  // throws if the connection cannot be made
    ~raw_connection();
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    // False if the peer closed or reset the connection before everything was written.
    bool send_all(std::string_view bytes);

    // Everything read until `quiet` passes without data or the peer closes.
    std::string read_until_quiet(std::chrono::milliseconds quiet);

    // Reads until `count` whole responses arrived, the peer closed, or `timeout` passed.
    std::vector<raw_response> read_responses(std::size_t count, std::chrono::milliseconds timeout);

    // Whether the peer closed the connection (EOF or reset) within `timeout`; data that arrives
    // meanwhile is discarded.
    bool closed_within(std::chrono::milliseconds timeout);

    bool peer_closed() const noexcept { return closed_; }

private:
    // One recv after waiting up to `wait`; false when nothing came (timeout or close).
    bool receive(std::chrono::milliseconds wait, std::string& into);

    int fd_ = -1;
    bool closed_ = false;
};

}  // namespace rl::testing
