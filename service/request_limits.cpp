#include "service/request_limits.hpp"

namespace rl::service {

restinio::incoming_http_msg_limits_t message_limits(std::uint64_t max_body) {
    return restinio::incoming_http_msg_limits_t{}
        .max_url_size(8 * 1024)
        .max_field_name_size(256)
        .max_field_value_size(8 * 1024)
        .max_field_count(100)
        .max_body_size(max_body);
}

}  // namespace rl::service
