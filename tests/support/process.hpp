#pragma once
// Child processes for integration tests: run a command to completion, or keep a real
// ratelimitd running on free ports with its own data directory.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rl::testing {

struct command_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs `argv` with extra environment entries ("NAME=value"), optionally feeding `input`.
command_result run_command(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env = {}, const std::string& input = {});

// The whole file, or "" when it cannot be read.
std::string read_text_file(const std::string& path);

// A TCP port nothing listens on right now.
int free_port();

std::string ratelimitd_path();
std::string rlctl_path();

// The path of `name` found in $PATH, /usr/sbin or /sbin (nginx lives there); "" when absent.
std::string find_program(const std::string& name);

// Any other long-running program a test needs (nginx, a test upstream): its stdout and stderr go
// to `log_path`, `env` entries ("NAME=value") are added to the environment; SIGTERM, then
// SIGKILL, when it goes away.
class child_process {
public:
    child_process(std::vector<std::string> argv, std::string log_path,
                  const std::vector<std::string>& env = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    // Polls `url` until it answers at all (any status), or throws with the log after 20 s or
    // when the program exits.
    void wait_until_answering(const std::string& url);
    std::string log() const;

    int pid() const noexcept { return pid_; }
    // True while it runs (a stopped process runs); reaps it once it has exited.
    bool running();
    void kill_hard();  // SIGKILL, reaped

private:
    std::string log_path_;
    int pid_ = -1;
};

class server_process {
public:
    // Starts ratelimitd on fresh ports over `data_dir` and waits until /readyz answers 200.
    explicit server_process(std::string data_dir, std::vector<std::string> extra_args = {},
                            std::vector<std::string> env = {});
    ~server_process();  // SIGKILL if still running
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;

    std::string public_url() const;
    int public_port() const noexcept { return public_port_; }
    std::string admin_url() const;
    std::string admin_token() const;  // from <data_dir>/admin.token
    const std::string& data_dir() const noexcept { return data_dir_; }

    // SIGTERM, then the exit code (or -1 after `timeout`, when it is killed).
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    void kill_hard();  // SIGKILL, reaped
    bool running() const noexcept { return pid_ > 0; }
    int pid() const noexcept { return pid_; }
    std::string log() const;  // what it wrote to stderr

private:
    std::string data_dir_;
    std::string log_path_;
    int public_port_ = 0;
    int admin_port_ = 0;
    int pid_ = -1;
};

}  // namespace rl::testing
