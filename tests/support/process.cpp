#include "tests/support/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/data_dir_files.hpp"
#include "tests/support/http_client.hpp"

extern char** environ;

namespace rl::testing {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    // The tests say exactly which RL_* settings apply; none leak in from the caller's shell.
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "RL_", 3) != 0) env.emplace_back(*e);
    for (const auto& entry : extra) {
        const std::string name = entry.substr(0, entry.find('=') + 1);
        env.erase(std::remove_if(
                      env.begin(), env.end(),
                      [&](const std::string& e) { return e.compare(0, name.size(), name) == 0; }),
                  env.end());
        env.push_back(entry);
    }
    return env;
}

int spawn(std::vector<std::string> argv, const std::vector<std::string>& extra_env, int in_fd,
          int out_fd, int err_fd) {
    auto env = merged_environment(extra_env);
    auto c_argv = c_strings(argv);
    auto c_env = c_strings(env);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(in_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        ::execve(c_argv[0], c_argv.data(), c_env.data());
        _exit(127);
    }
    return pid;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

int wait_exit(int pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

}  // namespace

command_result run_command(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const std::string& input) {
    int in[2], out[2], err[2];
    // Close-on-exec, so the child holds no copy of the ends it must see closed (stdin EOF).
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
        throw std::runtime_error("pipe failed");
    const int pid = spawn(argv, env, in[0], out[1], err[1]);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    std::thread writer([fd = in[1], &input] {
        std::size_t done = 0;
        while (done < input.size()) {
            const ssize_t n = ::write(fd, input.data() + done, input.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
    });
    command_result result;
    bool deadline_passed = false;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    // A command that should have exited but serves instead must fail the test, not hang it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (open_fds > 0) {
        if (!deadline_passed && std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            result.err += "\n[killed: still running after 60 s]";
            deadline_passed = true;
        }
        if (::poll(fds, 2, 1000) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    writer.join();
    result.exit_code = deadline_passed ? -1 : wait_exit(pid);
    if (deadline_passed) wait_exit(pid);
    return result;
}

std::string read_text_file(const std::string& path) {
    return read_all(path);
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string find_program(const std::string& name) {
    std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
    dirs += ":/usr/sbin:/sbin";
    std::stringstream list(dirs);
    for (std::string dir; std::getline(list, dir, ':');) {
        const std::string path = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return {};
}

child_process::child_process(std::vector<std::string> argv, std::string log_path,
                             const std::vector<std::string>& env)
    : log_path_(std::move(log_path)) {
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int null_fd = ::open("/dev/null", O_RDWR);
    pid_ = spawn(std::move(argv), env, null_fd, log_fd, log_fd);
    ::close(log_fd);
    ::close(null_fd);
}

child_process::~child_process() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    wait_exit(pid_);
}

void child_process::wait_until_answering(const std::string& url) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("exited before answering " + url + "; its log:\n" + log());
        }
        if (http_request("GET", url).status != 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("no answer from " + url + " within 20 s; its log:\n" + log());
}

std::string child_process::log() const {
    return read_all(log_path_);
}

bool child_process::running() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
}

void child_process::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_exit(pid_);
    pid_ = -1;
}

std::string ratelimitd_path() {
    return RL_RATELIMITD_PATH;
}
std::string rlctl_path() {
    return RL_RLCTL_PATH;
}

server_process::server_process(std::string data_dir, std::vector<std::string> extra_args,
                               std::vector<std::string> env)
    : data_dir_(std::move(data_dir)), log_path_(data_dir_ + ".log") {
    for (int attempt = 0; attempt < 5; ++attempt) {
        public_port_ = free_port();
        admin_port_ = free_port();
        std::vector<std::string> argv = {ratelimitd_path(),
                                         "--data-dir",
                                         data_dir_,
                                         "--listen",
                                         "127.0.0.1:" + std::to_string(public_port_),
                                         "--admin-listen",
                                         "127.0.0.1:" + std::to_string(admin_port_)};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        const int null_fd = ::open("/dev/null", O_RDWR);
        pid_ = spawn(argv, env, null_fd, null_fd, log_fd);
        ::close(log_fd);
        ::close(null_fd);

        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                break;  // exited: most likely a port race; try new ports
            }
            if (http_request("GET", public_url() + "/readyz").status == 200) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (pid_ > 0) kill_hard();
    }
    throw std::runtime_error("ratelimitd did not become ready; its log:\n" + log());
}

server_process::~server_process() {
    if (pid_ > 0) kill_hard();
}

std::string server_process::public_url() const {
    return "http://127.0.0.1:" + std::to_string(public_port_);
}

std::string server_process::admin_url() const {
    return "http://127.0.0.1:" + std::to_string(admin_port_);
}

std::string server_process::admin_token() const {
    std::ifstream in(common::data_dir_file(data_dir_, common::admin_token_file));
    std::string token;
    in >> token;
    return token;
}

int server_process::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill_hard();
    return -1;
}

void server_process::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait_exit(pid_);
    pid_ = -1;
}

std::string server_process::log() const {
    return read_all(log_path_);
}

}  // namespace rl::testing
