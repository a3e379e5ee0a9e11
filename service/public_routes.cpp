#include "service/public_routes.hpp"

namespace rl::service {

namespace {

struct api_key_field {
    std::optional<std::string_view> value;
    bool repeated = false;
};

api_key_field find_api_key(const restinio::http_request_header_t& request) {
    api_key_field found;
    request.for_each_value_of("X-API-KEY", [&](restinio::string_view_t value) {
        if (found.value) {
            found.repeated = true;
            return restinio::http_header_fields_t::stop_enumeration();
        }
        found.value = std::string_view(value.data(), value.size());
        return restinio::http_header_fields_t::continue_enumeration();
    });
    return found;
}

}  // namespace

restinio::incoming_http_msg_limits_t message_limits(std::uint64_t max_body) {
    return restinio::incoming_http_msg_limits_t{}
        .max_url_size(8 * 1024)
        .max_field_name_size(256)
        .max_field_value_size(8 * 1024)
        .max_field_count(100)
        .max_body_size(max_body);
}

public_answer answer_public(limit_handler& limit, const restinio::http_request_header_t& request,
                            limiter::time_point now, common::unix_seconds wall_now) {
    const auto path = request.path();
    if (path == "/limit" || (path.size() > 7 && path.substr(0, 7) == "/limit/")) {
        const api_key_field key = find_api_key(request);
        const limit_result result =
            key.repeated ? limit.refuse_repeated_key() : limit.decide(key.value, now, wall_now);
        if (!result.needs_usage()) return {render(result), true, result};
        return {std::nullopt, true, result};
    }
    if (path == "/healthz")
        return {http_reply{200, "application/json", {}, R"({"status":"ok"})"}, false, {}};
    if (path == "/readyz") {
        switch (limit.ready()) {
            case readiness::ready:
                return {
                    http_reply{200, "application/json", {}, R"({"status":"ready"})"}, false, {}};
            case readiness::loading:
                return {
                    problem_reply(503, "not-ready", "Not ready", "the key store is still loading"),
                    false,
                    {}};
            case readiness::storage_failing:
                return {problem_reply(503, "storage-unavailable", "Storage unavailable",
                                      "storage is failing; limits are enforced from memory until "
                                      "it recovers"),
                        false,
                        {}};
        }
    }
    return {problem_reply(404, "not-found", "Not found",
                          "no such path; the public endpoints are /limit, /healthz and /readyz"),
            false,
            {}};
}

}  // namespace rl::service
