#pragma once
// The admin JSON API as a plain function of a request: ratelimitd serves it over HTTP and rlctl
// calls it in-process on a data directory no server holds, so both behave the same.

#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/catalog.hpp"

namespace rl::admin {

struct api_request {
    std::string method;                        // GET, POST, PATCH, DELETE
    std::string path;                          // e.g. /v1/users/alice, already percent-decoded
    std::map<std::string, std::string> query;  // decoded query parameters
    std::string body;                          // JSON, may be empty
};

struct api_response {
    int status = 200;
    nlohmann::json body;  // an RFC 9457 problem when status >= 400
};

// Builds a request from a raw (percent-encoded) path and query, as they come off the wire;
// nullopt on a malformed escape.
std::optional<api_request> parse_api_request(std::string method, std::string_view path,
                                             std::string_view query, std::string body);

// RFC 9457 problem details; `type` is a short slug, made into a URN here.
nlohmann::json problem(int status, std::string_view type, std::string_view title,
                       std::string_view detail);

nlohmann::json to_json(const user_record& user, const catalog& catalog);
// A plan: name, limits (array of strings), shadow, builtin, created_at, updated_at; `users`
// (how many follow it) when given.
nlohmann::json to_json(const plan_record& plan, std::optional<std::size_t> users = std::nullopt);
nlohmann::json to_json(const key_record& key, common::unix_seconds now);

class admin_api {
public:
    explicit admin_api(catalog& catalog) : catalog_(catalog) {}
    // Runs before a route that reads usage (reports, export, backup): writes the counts still
    // held in memory.
    void before_usage_reads(std::function<void()> hook) { before_usage_reads_ = std::move(hook); }
    // Never throws: storage failures become 503 problems.
    api_response handle(const api_request& request) const;
    // The record a change request names (a user, a key), as it is now; null when there is none
    // or the request names no single record. What the audit log shows as "before".
    nlohmann::json record_of(const api_request& request) const noexcept;

private:
    api_response dispatch(const api_request& request) const;
    catalog& catalog_;
    std::function<void()> before_usage_reads_;
};

}  // namespace rl::admin
