#include "tests/support/agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/base/strings.h"
#include "common/base/time.h"
#include "tests/support/local_http.h"
#include "tests/support/wait.h"

namespace nw::testsupport {
namespace {

constexpr int kBindRetries = 3;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

}  // namespace

AgentProcess::AgentProcess(const TempDir& dir, AgentOptions opts)
    : root_(dir.path()), opts_(std::move(opts)) {
  port_ = opts_.port;
  if (port_ == 0) {
    Result<std::uint16_t> p = free_port();
    if (!p.ok()) throw std::runtime_error(p.error().to_string());
    port_ = *p;
  }
  peer_port_ = opts_.peer_port;
  while (peer_port_ == 0 || peer_port_ == port_) {
    Result<std::uint16_t> p = free_port();
    if (!p.ok()) throw std::runtime_error(p.error().to_string());
    peer_port_ = *p;
  }
  data_dir_ = root_ / opts_.name;
  log_path_ = root_ / (opts_.name + ".log");
  build_argv();
}

AgentProcess::~AgentProcess() { kill(); }

AgentProcess::AgentProcess(AgentProcess&& other) noexcept
    : root_(std::move(other.root_)),
      opts_(std::move(other.opts_)),
      port_(other.port_),
      peer_port_(other.peer_port_),
      data_dir_(std::move(other.data_dir_)),
      log_path_(std::move(other.log_path_)),
      argv_(std::move(other.argv_)),
      pid_(other.pid_),
      exit_code_(other.exit_code_),
      log_offset_(other.log_offset_) {
  other.pid_ = -1;
}

AgentProcess& AgentProcess::operator=(AgentProcess&& other) noexcept {
  if (this != &other) {
    kill();
    root_ = std::move(other.root_);
    opts_ = std::move(other.opts_);
    port_ = other.port_;
    peer_port_ = other.peer_port_;
    data_dir_ = std::move(other.data_dir_);
    log_path_ = std::move(other.log_path_);
    argv_ = std::move(other.argv_);
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    log_offset_ = other.log_offset_;
    other.pid_ = -1;
  }
  return *this;
}

void AgentProcess::build_argv() {
  argv_.clear();
  argv_.push_back(opts_.binary.empty() ? agent_binary() : opts_.binary);
  if (!opts_.config.empty()) {
    argv_.insert(argv_.end(), {"--config", opts_.config.string()});
  } else if (opts_.default_flags) {
    argv_.insert(argv_.end(),
                 {"--data-dir", data_dir_.string(), "--api", addr(), "--peer",
                  peer_addr(), "--log-level", opts_.log_level});
  }
  argv_.insert(argv_.end(), opts_.extra_args.begin(), opts_.extra_args.end());
}

Status AgentProcess::launch() {
  if (running()) {
    return Error(Code::failed_precondition,
                 "launch: nwagent " + opts_.name + " is running already");
  }
  if (argv_[0].empty()) {
    return Error(Code::failed_precondition,
                 "launch: the nwagent binary is unknown",
                 "include tests/support/binaries.h in a test whose target "
                 "defines NW_AGENT_BIN");
  }
  int log_fd = ::open(log_path_.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Error(Code::io_error, "launch: open " + log_path_.string() + ": " +
                                     std::strerror(errno));
  }
  std::string marker =
      "----- testsupport: launch " + join(argv_, " ") + " -----\n";
  (void)!::write(log_fd, marker.data(), marker.size());
  struct stat st {};
  log_offset_ =
      ::fstat(log_fd, &st) == 0 ? static_cast<std::uintmax_t>(st.st_size) : 0;
  SpawnSpec spec{argv_, opts_.env, opts_.cwd.empty() ? root_ : opts_.cwd,
                 -1,    log_fd,    log_fd};
  Result<pid_t> pid = spawn(spec);
  ::close(log_fd);
  if (!pid.ok()) return pid.error().wrap("launch");
  pid_ = *pid;
  exit_code_.reset();
  return ok_status();
}

bool AgentProcess::answered_by_us(Duration timeout) const {
  Result<HttpResponse> r =
      http_get(host_port(), "/v1/status",
               std::min<Duration>(timeout, std::chrono::seconds(2)));
  if (!r.ok() || r->status != 200) return false;
  // /v1/status is compact JSON; match the number whole ("pid":12 must not
  // match "pid":123) without a JSON parser in the harness.
  const std::string key = "\"pid\":" + std::to_string(pid_);
  for (size_t at = r->body.find(key); at != std::string::npos;
       at = r->body.find(key, at + 1)) {
    char next =
        at + key.size() < r->body.size() ? r->body[at + key.size()] : '\0';
    if (next == ',' || next == '}') return true;
  }
  return false;
}

Status AgentProcess::wait_ready(Duration timeout) {
  const MonoTime deadline = mono_now() + timeout;
  auto nap = std::chrono::milliseconds(5);
  std::string last = "no answer yet";
  while (true) {
    if (!running()) {
      return Error(Code::unavailable,
                   "nwagent " + opts_.name + " (" + join(argv_, " ") +
                       ") exited with code " +
                       (exit_code_ ? std::to_string(*exit_code_) : "?") +
                       " before it was ready; last lines of " +
                       log_path_.string() + ":\n" + log_tail(40));
    }
    auto left = std::chrono::duration_cast<Duration>(deadline - mono_now());
    if (left.count() <= 0) break;
    Result<HttpResponse> r =
        http_get(host_port(), "/v1/health/ready",
                 std::min<Duration>(left, std::chrono::seconds(2)));
    if (r.ok() && r->status == 200) {
      // Ready, but is it ours? Another agent may hold the port (a parallel
      // test run, or the free_port() race); ours reports our child's pid.
      if (answered_by_us(left)) return ok_status();
      last = "an agent that is not ours answers on " + addr();
    } else {
      last = r.ok() ? "HTTP " + std::to_string(r->status) + " " + r->body
                    : r.error().message;
    }
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::milliseconds(100));
  }
  return Error(Code::timeout,
               "nwagent " + opts_.name + " at " + addr() + " not ready after " +
                   format_duration(timeout) + " (last answer: " + last +
                   "); last lines of " + log_path_.string() + ":\n" +
                   log_tail(40));
}

Status AgentProcess::start(Duration ready_timeout) {
  for (int attempt = 0;; ++attempt) {
    NW_RETURN_IF_ERROR(launch());
    Status st = wait_ready(ready_timeout);
    if (st.ok() || running()) return st;
    // It exited. Was it the free_port() race (someone else took the port
    // after we picked it)? Only then is another port worth a try.
    bool port_ours =
        opts_.config.empty() && opts_.default_flags && opts_.port == 0;
    bool port_taken = !port_is_free(port_) ||
                      lower(current_log()).find("address already in use") !=
                          std::string::npos;
    if (!port_ours || !port_taken || attempt == kBindRetries) return st;
    Result<std::uint16_t> p = free_port();
    if (!p.ok()) return st;
    std::fprintf(stderr,
                 "[testsupport] %s: port %u was taken, retrying on %u\n",
                 opts_.name.c_str(), unsigned{port_}, unsigned{*p});
    port_ = *p;
    build_argv();
  }
}

bool AgentProcess::running() {
  if (pid_ < 0 || exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_wait_status(status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    exit_code_ = 255;  // reaped elsewhere; nothing to wait for
    return false;
  }
  return true;
}

Status AgentProcess::signal(int sig) {
  if (!running()) {
    return Error(Code::failed_precondition, "signal " + std::to_string(sig) +
                                                ": nwagent " + opts_.name +
                                                " is not running");
  }
  if (::kill(pid_, sig) != 0) {
    return Error(Code::io_error,
                 "kill " + std::to_string(pid_) + ": " + std::strerror(errno));
  }
  return ok_status();
}

std::optional<int> AgentProcess::wait_exit(Duration timeout) {
  if (pid_ < 0) return std::nullopt;
  wait_until([this] { return !running(); }, timeout,
             "nwagent " + opts_.name + " to exit");
  return exit_code_;
}

void AgentProcess::kill() {
  if (pid_ < 0 || exit_code_) return;
  // The leader is not reaped yet, so its pid (= the group id) cannot have
  // been reused: the group kill is safe and also ends its children.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  exit_code_ = r == pid_ ? decode_wait_status(status) : 255;
}

std::optional<int> AgentProcess::stop(Duration grace) {
  if (pid_ < 0) return std::nullopt;
  if (!running()) return exit_code_;
  ::kill(pid_, SIGTERM);
  const MonoTime deadline = mono_now() + grace;
  auto nap = std::chrono::milliseconds(5);
  while (running() && mono_now() < deadline) {
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::milliseconds(100));
  }
  if (running()) {
    std::fprintf(stderr,
                 "[testsupport] nwagent %s ignored SIGTERM for %s; SIGKILL\n",
                 opts_.name.c_str(), format_duration(grace).c_str());
    kill();
  }
  return exit_code_;
}

Status AgentProcess::restart(Duration ready_timeout) {
  if (running()) stop();
  return start(ready_timeout);
}

std::string AgentProcess::log() const { return read_file(log_path_); }

std::string AgentProcess::current_log() const {
  std::string all = log();
  return all.substr(std::min<std::uintmax_t>(log_offset_, all.size()));
}

std::string AgentProcess::log_tail(int lines) const {
  std::string all = log();
  if (all.empty()) return all;
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) {
    pos = all.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? all : all.substr(pos + 1);
}

bool AgentProcess::wait_for_log(std::string_view text, Duration timeout) const {
  return wait_until(
      [&] { return current_log().find(text) != std::string::npos; }, timeout,
      "\"" + std::string(text) + "\" in " + log_path_.string());
}

}  // namespace nw::testsupport
