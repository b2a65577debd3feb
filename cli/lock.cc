// `nwctl lock NAME [--ttl 30s] [--wait D] -- COMMAND [ARGS...]`: run a
// command while holding a cluster-wide lock (docs/api.md, "Locks"), as
// `consul lock` and `etcdctl lock` do.
//
// Steps, all on the main thread:
// 1. acquire: POST .../acquire long-polls of at most kAcquireChunk (and
//    ttl/3) until the lock is ours, --wait passes (exit 4, naming the
//    holder) or a signal comes (exit 128+N);
// 2. start COMMAND with posix_spawnp in a process group of its own, with
//    NW_LOCK_TOKEN and NW_LOCK_NAME in its environment and nwctl's stdio;
// 3. until it exits (waitpid polled every 100ms): renew every ttl/3, as
//    LeaseKeeper (lock_format.cc) decides. A refused renewal, or no
//    successful one before the lease's deadline on the monotonic clock,
//    stops the command (SIGTERM to its group, SIGKILL after kKillGrace)
//    and exits kLockLostExit (11);
// 4. release the lock and exit with the command's exit code (128+N when
//    signal N ended it).
// SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to the command's
// process group from the signal handler; the command's exit then ends
// nwctl as in step 4. The command is not in the terminal's foreground
// group, so it is meant for batch work, not for reading the terminal.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>
#include <thread>

#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/lock.h"
#include "common/http/client.h"

extern char** environ;

namespace nw::ctl {
namespace {

constexpr Duration kKillGrace = std::chrono::seconds(5);
constexpr Duration kPoll = std::chrono::milliseconds(100);
constexpr int kMaxTransientAcquireErrors = 5;
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

std::atomic<int> g_signal{0};
std::atomic<pid_t> g_child_group{0};

extern "C" void on_lock_signal(int sig) {
  g_signal.store(sig);
  pid_t group = g_child_group.load();
  if (group > 0) ::kill(-group, sig);
}

// Installs the forwarding handlers for its lifetime.
class SignalForwarder {
 public:
  SignalForwarder() {
    g_signal.store(0);
    g_child_group.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_lock_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    for (size_t i = 0; i < std::size(kForwarded); ++i) {
      ::sigaction(kForwarded[i], &sa, &old_[i]);
    }
  }
  ~SignalForwarder() {
    g_child_group.store(0);
    for (size_t i = 0; i < std::size(kForwarded); ++i) {
      ::sigaction(kForwarded[i], &old_[i], nullptr);
    }
  }
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

 private:
  struct sigaction old_[std::size(kForwarded)];
};

std::string hostname() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

void sleep_for(Duration d) {
  if (d.count() > 0) std::this_thread::sleep_for(d);
}

Error interrupted(const std::string& name) {
  return Error(Code::cancelled,
               "lock " + name + ": interrupted while waiting for the lock");
}

struct Acquired {
  LockGrant grant;
  MonoTime sent;  // when the request that got it was sent
};

Result<Acquired> acquire(Context& ctx, const Globals& globals,
                         const LockArgs& args, const std::string& holder) {
  std::optional<MonoTime> until;
  if (args.wait) until = mono_now() + *args.wait;
  bool told = false;
  int transient = 0;
  for (;;) {
    if (g_signal.load() != 0) return interrupted(args.name);
    std::optional<Duration> left;
    if (until) {
      left = std::chrono::duration_cast<Duration>(*until - mono_now());
    }
    const Duration wait = acquire_wait(left, args.ttl);
    NW_ASSIGN_OR_RETURN(auto client,
                        new_request_client(globals, ctx.timeout() + wait));
    const MonoTime sent = mono_now();
    auto resp = client->post(lock_path(args.name, "acquire"),
                             acquire_body(holder, args.ttl, wait));
    if (resp.ok()) {
      NW_ASSIGN_OR_RETURN(LockGrant grant, lock_grant_from_json(resp->body));
      return Acquired{std::move(grant), sent};
    }
    const Error& e = resp.error();
    const bool gave_up = until && mono_now() >= *until;
    if (e.code == Code::conflict) {
      transient = 0;
      if (gave_up) {
        return Error(Code::conflict,
                     "lock " + args.name + ": still held after waiting " +
                         format_duration(*args.wait) +
                         " (--wait): " + e.message,
                     "the holder keeps it until it releases it or stops "
                     "renewing; wait longer with --wait, or leave --wait "
                     "out to wait as long as it takes");
      }
      if (!told) {
        std::cerr << "nwctl: waiting for lock " << args.name << ": "
                  << e.message << std::endl;
        told = true;
      }
      // An agent that answers at once although asked to wait: do not spin.
      if (mono_now() - sent < wait / 2)
        sleep_for(std::min(left.value_or(kAcquireChunk), Duration(500)));
      continue;
    }
    if ((e.code == Code::unavailable || e.code == Code::timeout) && !gave_up &&
        ++transient < kMaxTransientAcquireErrors) {
      std::cerr << "nwctl: lock " << args.name << ": " << e.message
                << "; retrying" << std::endl;
      sleep_for(std::chrono::seconds(1));
      continue;
    }
    return e;
  }
}

// Best effort: the lease ends by itself within the ttl anyway.
void release(Context& ctx, const Globals& globals, const LockArgs& args,
             const std::string& holder, std::uint64_t token, bool quiet) {
  // After a lost lease the agent may be the problem: do not hang on it.
  Duration timeout =
      quiet ? std::min(ctx.timeout(), Duration(2000)) : ctx.timeout();
  auto client = new_request_client(globals, timeout);
  if (!client.ok()) return;
  auto resp = client.value()->post(lock_path(args.name, "release"),
                                   release_body(holder, token));
  if (!resp.ok() && !quiet) {
    std::cerr << "nwctl: lock " << args.name
              << ": release failed: " << resp.error().message
              << " (the lease ends by itself within " +
                     format_duration(args.ttl) + ")\n";
  }
}

// The environment of the command: nwctl's, with NW_LOCK_TOKEN and
// NW_LOCK_NAME set.
std::vector<std::string> child_environment(const LockArgs& args,
                                           std::uint64_t token) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("NW_LOCK_TOKEN=", 0) == 0 ||
        kv.rfind("NW_LOCK_NAME=", 0) == 0) {
      continue;
    }
    env.emplace_back(kv);
  }
  env.push_back("NW_LOCK_TOKEN=" + std::to_string(token));
  env.push_back("NW_LOCK_NAME=" + args.name);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts the command as the leader of a new process group, with the
// default action for the signals nwctl handles. Returns errno on failure.
int spawn(const LockArgs& args, std::uint64_t token, pid_t* pid) {
  std::vector<std::string> argv_s = args.command;
  std::vector<std::string> env_s = child_environment(args, token);
  std::vector<char*> argv = pointers(argv_s);
  std::vector<char*> envp = pointers(env_s);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : kForwarded) sigaddset(&defaults, s);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  int rc =
      ::posix_spawnp(pid, argv[0], nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  return rc;
}

Result<http::Response> renew(const Globals& globals, Duration timeout,
                             const LockArgs& args, const std::string& holder,
                             std::uint64_t token) {
  NW_ASSIGN_OR_RETURN(auto client, new_request_client(globals, timeout));
  return client->post(lock_path(args.name, "renew"),
                      renew_body(holder, token, args.ttl));
}

// SIGTERM to the command's group, SIGKILL after the grace; reaps it.
void stop_command(pid_t pid) {
  ::kill(-pid, SIGTERM);
  MonoTime until = mono_now() + kKillGrace;
  int status = 0;
  while (mono_now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return;
    sleep_for(kPoll);
  }
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

int run_lock(Context& ctx, const Globals& globals, const LockFlags& flags) {
  auto args = check_lock_args(flags);
  if (!args.ok()) return report(args.error());
  const std::string holder = lock_holder_id(
      hostname(), static_cast<long>(::getpid()), std::random_device{}());
  SignalForwarder forwarder;
  auto acquired = acquire(ctx, globals, args.value(), holder);
  if (!acquired.ok()) {
    int rc = report(acquired.error());
    int sig = g_signal.load();
    return acquired.error().code == Code::cancelled && sig != 0 ? 128 + sig
                                                                : rc;
  }
  const std::uint64_t token = acquired->grant.token;
  if (int sig = g_signal.load(); sig != 0) {
    release(ctx, globals, args.value(), holder, token, false);
    report(interrupted(args->name));
    return 128 + sig;
  }

  pid_t pid = 0;
  if (int rc = spawn(args.value(), token, &pid); rc != 0) {
    std::cerr << "nwctl: lock " << args->name << ": cannot run "
              << single_quote(args->command.front()) << ": "
              << std::strerror(rc) << "\n";
    release(ctx, globals, args.value(), holder, token, false);
    return rc == ENOENT ? kCommandNotFoundExit : kCannotExecuteExit;
  }
  g_child_group.store(pid);
  // A signal that came before the group was known.
  if (int sig = g_signal.load(); sig != 0) ::kill(-pid, sig);

  LeaseKeeper keeper(args->ttl, acquired->sent);
  std::string lost_why;
  bool warned = false;
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      // Reaped elsewhere (SIGCHLD ignored): its exit code is gone.
      std::cerr << "nwctl: lock " << args->name
                << ": cannot wait for the command: " << std::strerror(errno)
                << "\n";
      status = -1;
      break;
    }
    const MonoTime now = mono_now();
    LeaseKeeper::Action action = keeper.check(now);
    if (action == LeaseKeeper::Action::lost) {
      if (lost_why.empty()) {
        lost_why = "no renewal succeeded before the lease ended";
      }
      break;
    }
    if (action == LeaseKeeper::Action::renew) {
      const MonoTime sent = mono_now();
      auto resp = renew(globals, keeper.request_timeout(now), args.value(),
                        holder, token);
      if (resp.ok()) {
        auto grant = lock_grant_from_json(resp->body);
        if (grant.ok() && grant->token != token) {
          keeper.refused();
          lost_why = "the lock now has another token (" +
                     std::to_string(grant->token) + ")";
        } else {
          keeper.renewed(sent);
          warned = false;
        }
      } else if (resp.error().code == Code::failed_precondition ||
                 resp.error().code == Code::not_found) {
        keeper.refused();
        lost_why = "the agent refused the renewal: " + resp.error().message;
      } else {
        keeper.failed(mono_now());
        if (!warned) {
          std::cerr << "nwctl: lock " << args->name
                    << ": renewal failed: " << resp.error().message
                    << "; retrying until the lease ends" << std::endl;
          warned = true;
        }
      }
      continue;
    }
    sleep_for(keeper.sleep_for(now, kPoll));
  }

  if (!lost_why.empty()) {
    std::cerr << "nwctl: lock " << args->name << ": lost the lock (" << lost_why
              << "); stopping the command" << std::endl;
    stop_command(pid);
    g_child_group.store(0);
    if (lost_why.rfind("no renewal", 0) == 0) {
      release(ctx, globals, args.value(), holder, token, true);
    }
    std::cerr << "nwctl: lock " << args->name << ": command stopped; exit "
              << kLockLostExit << "\n";
    return kLockLostExit;
  }
  g_child_group.store(0);
  release(ctx, globals, args.value(), holder, token, false);
  return status < 0 ? 1 : exit_code_of_status(status);
}

}  // namespace

void add_lock_commands(Cli& cli) {
  auto flags = std::make_shared<LockFlags>();
  CLI::App* lock = cli.app->add_subcommand(
      "lock", "Run a command while holding a cluster-wide lock");
  lock->add_option("name", flags->name, "the lock")
      ->required()
      ->type_name("NAME");
  lock->add_option("command", flags->command,
                   "the command and its arguments, after --")
      ->type_name("COMMAND");
  lock->add_option("--ttl", flags->ttl,
                   "the lease, renewed every ttl/3 while the command runs "
                   "(1s to 7d)")
      ->default_str("30s")
      ->type_name("DURATION");
  lock->add_option("--wait", flags->wait,
                   "give up when the lock is still held after this long "
                   "(default: wait as long as it takes)")
      ->type_name("DURATION");
  lock->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl lock backup -- /usr/local/bin/backup.sh --full\n"
      "  nwctl lock report --wait 0 -- ./report.sh   # skip when it is "
      "held\n"
      "  nwctl lock migrate --ttl 2m --wait 10m -- sh -c 'migrate up'\n\n"
      "The command runs with NW_LOCK_NAME and NW_LOCK_TOKEN (the fencing "
      "token) in its environment and nwctl's stdin, stdout and stderr; "
      "SIGINT and SIGTERM are passed on to it. nwctl exits with the "
      "command's exit code (128+N when signal N ended it), after releasing "
      "the lock. Other exits: 4 the lock was still held when --wait "
      "passed (the message names the holder), 11 the lock was lost while "
      "the command ran (a renewal was refused, or none succeeded before "
      "the lease ended): the command got SIGTERM, then SIGKILL after 5s, "
      "126 the command cannot be executed, 127 it was not found."));
  const Globals* globals = &cli.globals;
  cli.actions[lock] = [flags, globals](Context& ctx) {
    return run_lock(ctx, *globals, *flags);
  };
}

}  // namespace nw::ctl
