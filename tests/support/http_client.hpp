#pragma once
// A blocking HTTP client for tests (libcurl), one connection per call.

#include <map>
#include <string>
#include <vector>

namespace rl::testing {

struct http_response {
    int status = 0;                                   // 0: no answer (connection failed)
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string body;

    // The first value of a header, or "" when absent.
    std::string header(const std::string& lower_name) const;
    bool has_header(const std::string& lower_name) const { return headers.count(lower_name) > 0; }
};

http_response http_request(const std::string& method, const std::string& url,
                           const std::vector<std::string>& headers = {},
                           const std::string& body = {});

// One keep-alive connection, reused across requests (load tests).
class http_session {
public:
    http_session();
    ~http_session();
    http_session(const http_session&) = delete;
    http_session& operator=(const http_session&) = delete;
    int get_status(const std::string& url, const std::string& header_line);

private:
    void* curl_;
};

// Writes `bytes` as they are to 127.0.0.1:`port` and returns everything read until the peer
// closes or `quiet_ms` pass without data.
std::string raw_exchange(int port, const std::string& bytes, int quiet_ms = 500);

}  // namespace rl::testing
