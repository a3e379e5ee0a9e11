#include "service/audit_log.hpp"

#include "common/time_text.hpp"

namespace rl::service {

std::string audit_line(const audit_entry& e) {
    nlohmann::ordered_json line{{"time", common::format_rfc3339_ms(e.unix_ms)},
                                {"token", e.token},
                                {"remote", e.remote},
                                {"method", e.method},
                                {"path", e.path},
                                {"status", e.status},
                                {"before", e.before},
                                {"after", e.after}};
    // Invalid UTF-8 in a path is replaced rather than failing the line.
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void audit_log::write(const audit_entry& entry) noexcept {
    try {
        file_.append(audit_line(entry));
    } catch (...) {  // a lost audit line never fails the change it records
    }
}

}  // namespace rl::service
