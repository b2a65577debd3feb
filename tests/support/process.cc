#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/base/time.h"

extern char** environ;

namespace nw::testsupport {
namespace {

// Process-wide paths of the binaries under test; written before main() by
// binaries.h, read by the test thread.
struct Binaries {
  std::string agent;
  std::string nwctl;
};

Binaries& binaries() {
  static Binaries b;
  return b;
}

std::vector<std::string> build_env(const EnvOverrides& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string key(kv.substr(0, kv.find('=')));
    if (overrides.count(key) == 0) out.emplace_back(kv);
  }
  for (const auto& [key, value] : overrides) {
    if (value) out.push_back(key + "=" + *value);
  }
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string tail(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  return "[... " + std::to_string(s.size() - n) + " bytes cut ...]" +
         s.substr(s.size() - n);
}

// Waits for pid to exit until `deadline`; nullopt when it has not.
std::optional<int> wait_pid_until(pid_t pid, MonoTime deadline) {
  auto nap = std::chrono::milliseconds(1);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_wait_status(status);
    if (r < 0 && errno != EINTR) return 255;  // not our child any more
    if (mono_now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::milliseconds(20));
  }
}

void kill_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

bool set_binaries(std::string agent, std::string nwctl) {
  binaries().agent = std::move(agent);
  binaries().nwctl = std::move(nwctl);
  return true;
}
const std::string& agent_binary() { return binaries().agent; }
const std::string& nwctl_binary() { return binaries().nwctl; }

Result<pid_t> spawn(const SpawnSpec& spec) {
  NW_ASSERT(!spec.argv.empty(), "spawn of an empty argv");
  // Everything the child needs is built before fork: after fork only
  // async-signal-safe calls are allowed.
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> env = build_env(spec.env);
  std::vector<char*> argv = c_strings(args);
  std::vector<char*> envp = c_strings(env);
  std::string cwd = spec.cwd.string();

  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    return Error(Code::io_error,
                 std::string("open /dev/null: ") + std::strerror(errno));
  }
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(devnull);
    return Error(Code::io_error, std::string("pipe: ") + std::strerror(e));
  }
  const int fds[3] = {spec.stdin_fd >= 0 ? spec.stdin_fd : devnull,
                      spec.stdout_fd >= 0 ? spec.stdout_fd : devnull,
                      spec.stderr_fd >= 0 ? spec.stderr_fd : devnull};
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(devnull);
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    return Error(Code::io_error, std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died already
    // dup2 onto 0-2 clears close-on-exec on the copies; a source fd that
    // is itself 0-2 is fine because dup2(fd, fd) is a no-op.
    for (int i = 0; i < 3; ++i) {
      if (fds[i] != i && ::dup2(fds[i], i) < 0) {
        int e = errno;
        (void)!::write(exec_pipe[1], &e, sizeof e);
        ::_exit(127);
      }
      if (fds[i] == i) ::fcntl(i, F_SETFD, 0);
    }
    // No fd of the test runner (pipes of other children, sockets) may leak
    // into this child; the exec pipe closes on exec like the rest.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      int e = errno;
      (void)!::write(exec_pipe[1], &e, sizeof e);
      ::_exit(127);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    (void)!::write(exec_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so there is no window before exec
  ::close(devnull);
  ::close(exec_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return Error(Code::io_error, "cannot start " + spec.argv[0] +
                                     (cwd.empty() ? "" : " in " + cwd) + ": " +
                                     std::strerror(child_errno));
  }
  return pid;
}

ProcessResult run(const std::vector<std::string>& argv, const EnvOverrides& env,
                  const std::optional<std::string>& stdin_text,
                  Duration timeout, const std::filesystem::path& cwd) {
  ProcessResult result;
  for (const std::string& a : argv) {
    if (!result.command.empty()) result.command += ' ';
    result.command += a;
  }
  if (argv.empty()) {
    result.exit_code = 127;
    result.spawn_error = "empty argv";
    return result;
  }
  // A child that exits without reading its stdin must not kill the test
  // runner with SIGPIPE; children get the default disposition back.
  static const bool kSigpipeIgnored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)kSigpipeIgnored;

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  auto fail = [&](const std::string& what) {
    int e = errno;
    for (int* p : {out_pipe, err_pipe, in_pipe}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    result.exit_code = 127;
    result.spawn_error = what + ": " + std::strerror(e);
    return result;
  };
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return fail("pipe");
  }
  if (stdin_text && ::pipe2(in_pipe, O_CLOEXEC) != 0) return fail("pipe");

  SpawnSpec spec{argv, env, cwd, in_pipe[0], out_pipe[1], err_pipe[1]};
  MonoTime deadline = mono_now() + timeout;
  Result<pid_t> pid = spawn(spec);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  close_fd(in_pipe[0]);
  if (!pid.ok()) {
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    close_fd(in_pipe[1]);
    result.exit_code = 127;
    result.spawn_error = pid.error().to_string();
    return result;
  }

  int& in_fd = in_pipe[1];
  size_t in_written = 0;
  if (in_fd >= 0) {
    ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
    if (stdin_text->empty()) close_fd(in_fd);
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - mono_now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd pfds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_fd >= 0) pfds[out_i = n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) pfds[err_i = n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) pfds[in_i = n++] = {in_fd, POLLOUT, 0};
    int r = ::poll(pfds, static_cast<nfds_t>(n),
                   static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || pfds[idx].revents == 0) return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got > 0) {
        sink.append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close_fd(fd);
      }
    };
    drain(out_i, out_fd, result.out);
    drain(err_i, err_fd, result.err);
    if (in_i >= 0 && pfds[in_i].revents != 0) {
      if (pfds[in_i].revents & (POLLERR | POLLHUP)) {
        close_fd(in_fd);  // the child closed its stdin
      } else {
        ssize_t put = ::write(in_fd, stdin_text->data() + in_written,
                              stdin_text->size() - in_written);
        if (put > 0) in_written += static_cast<size_t>(put);
        if ((put < 0 && errno != EAGAIN && errno != EINTR) ||
            in_written == stdin_text->size()) {
          close_fd(in_fd);
        }
      }
    }
  }
  close_fd(out_fd);
  close_fd(err_fd);
  close_fd(in_fd);

  std::optional<int> code;
  if (!result.timed_out) {
    // The pipes closed; the exit itself follows at once, unless the child
    // closed them on purpose and went on running.
    code = wait_pid_until(*pid, deadline);
    if (!code) result.timed_out = true;
  }
  if (result.timed_out) {
    kill_and_reap(*pid);
    result.exit_code = 128 + SIGKILL;
  } else {
    result.exit_code = *code;
  }
  return result;
}

ProcessResult run_nwctl(std::vector<std::string> args, EnvOverrides env,
                        const std::optional<std::string>& stdin_text,
                        Duration timeout) {
  for (const char* name :
       {"NW_ADDR", "NW_OUTPUT", "NW_TOKEN", "NW_TIMEOUT", "NW_CACERT"}) {
    env.emplace(name, std::nullopt);  // keeps an explicit override
  }
  args.insert(args.begin(), nwctl_binary().empty()
                                ? std::string("nwctl-binary-not-set")
                                : nwctl_binary());
  return run(args, env, stdin_text, timeout);
}

std::string ProcessResult::describe() const {
  std::string s = "command: " + command + "\n";
  if (!spawn_error.empty()) {
    s += "could not start: " + spawn_error + "\n";
  } else if (timed_out) {
    s += "TIMED OUT: killed with SIGKILL after the timeout (exit " +
         std::to_string(exit_code) + ")\n";
  } else if (exit_code > 128) {
    s += "killed by signal " + std::to_string(exit_code - 128) + "\n";
  } else {
    s += "exit code " + std::to_string(exit_code) + "\n";
  }
  s += "--- stdout ---\n" + tail(out, 4000) + "\n--- stderr ---\n" +
       tail(err, 4000);
  return s;
}

}  // namespace nw::testsupport
