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

public_answer answer_public(limit_handler& limit, const restinio::http_request_header_t& request,
                            limiter::time_point now, limiter::wall_time wall) {
    const auto path = request.path();
    if (path == "/limit" || (path.size() > 7 && path.substr(0, 7) == "/limit/")) {
        const api_key_field key = find_api_key(request);
        const limit_result result =
            key.repeated ? limit.refuse_repeated_key() : limit.decide(key.value, now, wall);
        if (!result.waits_for_usage()) return {render(result), true, result};
        return {std::nullopt, true, result};
    }
    if (path == "/healthz") return {health_reply(), false, {}};
    if (path == "/readyz") {
        const std::string_view query = request.query();
        if (query.empty()) return {readiness_reply(limit.ready()), false, {}};
        return {group_readiness_reply(limit, query), false, {}};
    }
    return {not_found_reply(), false, {}};
}

}  // namespace rl::service
