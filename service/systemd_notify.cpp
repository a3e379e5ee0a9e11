#include "service/systemd_notify.hpp"

#include <systemd/sd-daemon.h>

namespace rl::service {

namespace {

// Newlines separate assignments in the notification protocol; a status keeps to one line.
std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n') c = ' ';
    return text;
}

}  // namespace

void notify_ready(const std::string& status) {
    // The result is ignored on purpose: a lost notification makes systemd time the start out,
    // which is reported there; the server itself serves either way.
    (void)sd_notify(0, ("READY=1\nSTATUS=" + one_line(status)).c_str());
}

void notify_stopping() {
    (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

}  // namespace rl::service
