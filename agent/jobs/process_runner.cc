#include "agent/jobs/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/base/log.h"

namespace nw::jobs {
namespace {

constexpr std::string_view kDomain = "jobs";
constexpr std::size_t kReadChunk = 64 * 1024;
// How long run() waits for the group to empty after SIGKILL before it
// reports leftovers (zombies it cannot reap).
constexpr auto kLeftoverWait = std::chrono::seconds(5);
// Poll period for what has no descriptor to wait on: members of the group
// that are not our children, and pidfd_open or eventfd being unavailable.
constexpr auto kGroupPoll = std::chrono::milliseconds(5);
constexpr auto kFallbackPoll = std::chrono::milliseconds(50);
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

std::string errno_text(int err) { return std::strerror(err); }

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

Status validate(const RunSpec& spec) {
  auto bad = [](std::string what) {
    return Error(Code::invalid_argument, "job command: " + std::move(what),
                 "fix the job definition", kDomain);
  };
  if (spec.argv.empty() == spec.shell.empty()) {
    return bad("exactly one of argv and shell must be set");
  }
  if (!spec.argv.empty() && spec.argv[0].empty()) {
    return bad("argv[0] is empty");
  }
  for (const auto& a : spec.argv) {
    if (has_nul(a)) return bad("argv holds a NUL byte");
  }
  if (has_nul(spec.shell)) return bad("shell holds a NUL byte");
  if (has_nul(spec.workdir)) return bad("workdir holds a NUL byte");
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos || has_nul(k)) {
      return bad("env name '" + k + "' is empty or holds '=' or NUL");
    }
    if (has_nul(v)) return bad("env " + k + " holds a NUL byte");
  }
  if (spec.timeout.count() < 0 || spec.kill_grace.count() < 0) {
    return bad("timeout and kill_grace must not be negative");
  }
  return ok_status();
}

std::map<std::string, std::string> build_env(const RunSpec& spec,
                                             const RunIdentity& id) {
  std::map<std::string, std::string> env;
  for (const char* name : {"PATH", "HOME", "LANG"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  if (!env.contains("PATH")) env["PATH"] = kDefaultPath;
  for (const auto& [k, v] : spec.env) env[k] = v;
  env["NW_JOB"] = id.job;
  env["NW_RUN_ID"] = id.run_id;
  env["NW_SLOT"] = id.slot;
  env["NW_SHARD_INDEX"] = std::to_string(id.shard_index);
  env["NW_SHARD_COUNT"] = std::to_string(id.shard_count);
  return env;
}

Error start_error(int err, const std::string& what, std::string hint) {
  Code code = Code::io_error;
  if (err == ENOENT || err == ENOTDIR) code = Code::not_found;
  if (err == EACCES || err == EPERM) code = Code::permission_denied;
  return Error(code, "start job " + what + ": " + errno_text(err),
               std::move(hint), kDomain);
}

// The file to execute for argv[0]: as given if it holds a '/', else the
// first executable regular file of that name in `path` (the child's PATH,
// which posix_spawnp would not use: it searches the agent's).
Result<std::string> resolve(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  int err = ENOENT;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(pos, end - pos);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      err = EACCES;
    }
    pos = end + 1;
  }
  if (err == ENOENT) {
    return Error(Code::not_found,
                 "start job '" + name + "': command not found in PATH=" + path,
                 "install it, give its full path, or set PATH in the job's "
                 "env",
                 kDomain);
  }
  return start_error(err, "'" + name + "'", "make the file executable");
}

class SpawnSetup {
 public:
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&fa_);
    ::posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&fa_);
    ::posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // stdin </dev/null, stdout and stderr to `out`, chdir to workdir (if
  // any), every other descriptor closed; a new session with default signal
  // dispositions and an empty mask (the agent may ignore SIGPIPE or block
  // signals in its threads; a job must not inherit that).
  int prepare(int out, const std::string& workdir) {
    int rc =
        ::posix_spawn_file_actions_addopen(&fa_, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&fa_, out, 1);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&fa_, out, 2);
    if (rc == 0 && !workdir.empty()) {
      rc = ::posix_spawn_file_actions_addchdir_np(&fa_, workdir.c_str());
    }
    if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(&fa_, 3);
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&attr_, &all);
    if (rc == 0) {
      rc = ::posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSID |
                                                  POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF);
    }
    return rc;
  }
  const posix_spawn_file_actions_t* actions() const { return &fa_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t fa_;
  posix_spawnattr_t attr_;
};

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

int poll_ms(std::chrono::steady_clock::duration d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

}  // namespace

// ---------------------------------------------------------------- output

CapturedOutput::CapturedOutput(std::size_t limit)
    : head_cap_(limit / 2), tail_cap_(limit - limit / 2) {}

void CapturedOutput::append(std::string_view chunk) {
  total_ += chunk.size();
  if (head_.size() < head_cap_) {
    const std::size_t take = std::min(chunk.size(), head_cap_ - head_.size());
    head_.append(chunk.substr(0, take));
    chunk.remove_prefix(take);
  }
  if (chunk.empty()) return;
  if (tail_cap_ == 0) {
    elided_ += chunk.size();
    return;
  }
  if (ring_.empty()) ring_.resize(tail_cap_);
  if (chunk.size() >= tail_cap_) {
    elided_ += tail_size_ + chunk.size() - tail_cap_;
    chunk.remove_prefix(chunk.size() - tail_cap_);
    std::copy(chunk.begin(), chunk.end(), ring_.begin());
    tail_start_ = 0;
    tail_size_ = tail_cap_;
    return;
  }
  if (tail_size_ + chunk.size() > tail_cap_) {
    const std::size_t drop = tail_size_ + chunk.size() - tail_cap_;
    elided_ += drop;
    tail_start_ = (tail_start_ + drop) % tail_cap_;
    tail_size_ -= drop;
  }
  std::size_t at = (tail_start_ + tail_size_) % tail_cap_;
  const std::size_t first = std::min(chunk.size(), tail_cap_ - at);
  std::copy_n(chunk.begin(), first, ring_.begin() + static_cast<long>(at));
  std::copy(chunk.begin() + static_cast<long>(first), chunk.end(),
            ring_.begin());
  tail_size_ += chunk.size();
}

std::string CapturedOutput::tail() const {
  std::string out;
  out.reserve(tail_size_);
  const std::size_t first = std::min(tail_size_, tail_cap_ - tail_start_);
  out.append(ring_.data() + tail_start_, first);
  out.append(ring_.data(), tail_size_ - first);
  return out;
}

std::string CapturedOutput::text() const {
  std::string out = head_;
  if (elided_ != 0) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "[... " + std::to_string(elided_) + " bytes elided ...]\n";
  }
  out += tail();
  return out;
}

std::string_view to_string(EndReason reason) {
  switch (reason) {
    case EndReason::exited:
      return "exited";
    case EndReason::timed_out:
      return "timed_out";
    case EndReason::cancelled:
      return "cancelled";
    case EndReason::failed_to_start:
      return "failed_to_start";
  }
  return "unknown";
}

// ---------------------------------------------------------------- runner

ProcessRunner::ProcessRunner(RunSpec spec, RunIdentity identity,
                             OutputCallback on_output)
    : spec_(std::move(spec)),
      identity_(std::move(identity)),
      on_output_(std::move(on_output)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

ProcessRunner::~ProcessRunner() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ProcessRunner::cancel() {
  cancelled_.store(true);
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
}

// The state of one run() between the spawn and the end.
struct ProcessRunner::Loop {
  Loop(const RunSpec& s, const OutputCallback& cb, RunResult& r, pid_t p,
       int out_fd)
      : spec(s),
        on_output(cb),
        result(r),
        pid(p),
        out(out_fd),
        pidfd(static_cast<int>(::syscall(SYS_pidfd_open, p, 0))) {}
  // Only when run() is left early (the output callback threw): the tree
  // must not outlive the run even then.
  ~Loop() {
    if (finished) return;
    ::kill(-pid, SIGKILL);
    if (!leader_done) ::waitpid(pid, nullptr, 0);
    for (int i = 0; i < 200 && !group_empty; ++i) {
      check_group();
      if (!group_empty) std::this_thread::sleep_for(kGroupPoll);
    }
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  const RunSpec& spec;
  const OutputCallback& on_output;
  RunResult& result;
  pid_t pid;
  Fd out;
  Fd pidfd;
  MonoTime start = mono_now();
  bool stopping = false;  // SIGTERM sent to the group
  MonoTime term_at{};
  bool killed = false;  // SIGKILL sent to the group
  MonoTime kill_at{};
  bool leader_done = false;
  bool group_empty = false;
  bool finished = false;  // the loop ended normally
  char buf[kReadChunk] = {};

  void signal_group(int sig) {
    if (::kill(-pid, sig) != 0 && errno != ESRCH) {
      log::Logger("jobs").warn("signal job process group failed",
                               {{"pgid", static_cast<int>(pid)},
                                {"signal", sig},
                                {"error", errno_text(errno)}});
    }
  }
  void terminate(MonoTime now) {
    if (stopping) return;
    stopping = true;
    term_at = now;
    signal_group(SIGTERM);
    if (spec.kill_grace.count() == 0) kill(now);
  }
  void kill(MonoTime now) {
    killed = true;
    kill_at = now;
    signal_group(SIGKILL);
  }
  void reap_leader() {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != pid) return;
    leader_done = true;
    pidfd.reset();
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  // After the leader: reap members that are our children (orphans, when
  // we are a subreaper) and see whether any member is left.
  void check_group() {
    int status = 0;
    while (::waitpid(-pid, &status, WNOHANG) > 0) {
    }
    group_empty = ::kill(-pid, 0) != 0 && errno == ESRCH;
  }
  // Reads what the pipe has now; false at EOF.
  bool read_some(int max_chunks) {
    for (int i = 0; i < max_chunks; ++i) {
      const ssize_t n = ::read(out.fd, buf, sizeof buf);
      if (n > 0) {
        const std::string_view chunk(buf, static_cast<std::size_t>(n));
        if (on_output) on_output(chunk);
        result.output.append(chunk);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      out.reset();  // EOF, or an error we cannot do anything about
      return false;
    }
    return true;
  }
};

Result<RunResult> ProcessRunner::run() {
  if (ran_.exchange(true)) {
    return Error(Code::failed_precondition,
                 "run job: this ProcessRunner has run already",
                 "make one ProcessRunner per run", kDomain);
  }
  NW_RETURN_IF_ERROR(validate(spec_));
  RunResult result;
  result.output = CapturedOutput(spec_.output_limit);
  result.started_at = wall_now();
  auto fail = [&](Error e) {
    result.reason = EndReason::failed_to_start;
    result.error = std::move(e);
    result.ended_at = wall_now();
    return result;
  };
  if (cancelled_.load()) {
    result.reason = EndReason::cancelled;
    result.ended_at = result.started_at;
    return result;
  }

  const auto env = build_env(spec_, identity_);
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> args = spec_.argv;
  std::string program;
  if (!spec_.shell.empty()) {
    program = "/bin/sh";
    args = {"sh", "-c", spec_.shell};
  } else {
    auto resolved = resolve(args[0], env.at("PATH"));
    if (!resolved.ok()) return fail(std::move(resolved).error());
    program = std::move(resolved).value();
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  if (!spec_.workdir.empty()) {
    struct stat st {};
    if (::stat(spec_.workdir.c_str(), &st) != 0) {
      return fail(start_error(errno, "in workdir '" + spec_.workdir + "'",
                              "create the directory or fix the job's "
                              "workdir"));
    }
    if (!S_ISDIR(st.st_mode)) {
      return fail(start_error(ENOTDIR, "in workdir '" + spec_.workdir + "'",
                              "fix the job's workdir"));
    }
  }

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error(Code::io_error, "run job: pipe: " + errno_text(errno),
                 "raise the agent's open file limit", kDomain);
  }
  Fd read_end(fds[0]);
  Fd write_end(fds[1]);
  ::fcntl(read_end.fd, F_SETFL, ::fcntl(read_end.fd, F_GETFL) | O_NONBLOCK);

  SpawnSetup setup;
  if (int rc = setup.prepare(write_end.fd, spec_.workdir); rc != 0) {
    return fail(start_error(rc, "'" + args[0] + "' (spawn setup)", {}));
  }
  pid_t pid = 0;
  result.started_at = wall_now();
  const int rc = ::posix_spawn(&pid, program.c_str(), setup.actions(),
                               setup.attr(), argv.data(), envp.data());
  write_end.reset();
  if (rc != 0) {
    return fail(start_error(
        rc, "'" + program + "'",
        rc == EACCES ? "make the file executable" : "check the job's command"));
  }
  result.pgid = pid;

  Loop loop(spec_, on_output_, result, pid, std::exchange(read_end.fd, -1));

  const bool has_deadline = spec_.timeout.count() > 0;
  const MonoTime deadline = loop.start + spec_.timeout;
  while (true) {
    const MonoTime now = mono_now();
    if (!loop.stopping && cancelled_.load()) {
      result.reason = EndReason::cancelled;
      loop.terminate(now);
    } else if (!loop.stopping && has_deadline && now >= deadline) {
      result.reason = EndReason::timed_out;
      loop.terminate(now);
    }
    if (loop.stopping && !loop.killed &&
        now >= loop.term_at + spec_.kill_grace) {
      loop.kill(now);
    }
    if (!loop.leader_done) loop.reap_leader();
    if (loop.leader_done) {
      loop.check_group();
      if (loop.group_empty) break;
      // A run owns its tree: what the main process left behind goes too.
      loop.terminate(now);
      if (loop.killed && now >= loop.kill_at + kLeftoverWait) {
        result.leftovers = true;
        break;
      }
    }

    // Sleep until output, the leader's exit, cancel() or the next deadline.
    pollfd pfds[3];
    nfds_t n = 0;
    if (loop.out.fd >= 0) pfds[n++] = {loop.out.fd, POLLIN, 0};
    if (loop.pidfd.fd >= 0) pfds[n++] = {loop.pidfd.fd, POLLIN, 0};
    if (wake_fd_ >= 0 && !loop.stopping) pfds[n++] = {wake_fd_, POLLIN, 0};
    std::optional<MonoTime> wake;
    auto until = [&](MonoTime t) { wake = wake ? std::min(*wake, t) : t; };
    if (has_deadline && !loop.stopping) until(deadline);
    if (loop.stopping && !loop.killed) until(loop.term_at + spec_.kill_grace);
    if (loop.leader_done) until(now + kGroupPoll);
    if (!loop.leader_done && loop.pidfd.fd < 0) until(now + kFallbackPoll);
    if (wake_fd_ < 0 && !loop.stopping) until(now + kFallbackPoll);
    const int timeout_ms = wake ? poll_ms(*wake - mono_now()) : -1;
    if (::poll(pfds, n, timeout_ms) <= 0) continue;
    for (nfds_t i = 0; i < n; ++i) {
      if (pfds[i].revents == 0) continue;
      if (pfds[i].fd == loop.out.fd) loop.read_some(16);
      if (pfds[i].fd == wake_fd_) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
      }
    }
  }
  // The group is gone: what is in the pipe now is all it wrote. Do not
  // wait for EOF, which a process that left the group could hold off.
  if (loop.out.fd >= 0) {
    while (loop.read_some(16)) {
      pollfd p{loop.out.fd, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) break;
    }
  }
  loop.finished = true;
  result.ended_at = wall_now();
  return result;
}

Status enable_child_subreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return Error(Code::io_error, "become child subreaper: " + errno_text(errno),
                 {}, kDomain);
  }
  return ok_status();
}

}  // namespace nw::jobs
