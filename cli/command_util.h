#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "cli/context.h"
#include "cli/records_client.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/base/units.h"
#include "common/http/client.h"

// What the topic, produce, consume, group and bench commands share: their
// registration functions, argument parsers that say what to write instead,
// a way to make one API client per worker thread, and SIGINT handling for
// the commands that run until interrupted.
//
// Threads: the parsers are pure. new_client() may be called from any
// thread (each client then belongs to one thread). Interrupt is
// process-wide (a signal handler sets an atomic flag).
namespace nw::ctl {

// One per noun (topic.cc, produce.cc, consume.cc, group.cc, bench.cc,
// job.cc, lock.cc).
void add_topic_commands(Cli& cli);
void add_produce_commands(Cli& cli);
void add_consume_commands(Cli& cli);
void add_group_commands(Cli& cli);
void add_bench_commands(Cli& cli);
void add_job_commands(Cli& cli);
void add_lock_commands(Cli& cli);

// A command's help footer: its examples, then the exit codes of the root's
// footer (a subcommand with its own footer would drop them).
std::string command_footer(const Cli& cli, const std::string& examples);

// invalid_argument (exit 2) from domain "cli".
Error usage(std::string message, std::string hint = {});

// 'text', for messages about what the user wrote.
std::string single_quote(std::string_view text);

// Writes text to stdout as is and flushes.
void print_text(std::string_view text);

// Prints a successful answer: -o json the body re-indented, else `text`.
// Returns the exit code (0, or 1 when the body is not JSON).
int print_answer(Context& ctx, const std::string& body, std::string_view what,
                 const std::string& text);

// GET `path` and print the answer: -o json the body re-indented, else
// render(decode(body)). `hint` (optional) adds what to do to an error.
template <class Decode, class Render>
int show(Context& ctx, const std::string& path, std::string_view what,
         Decode decode, Render render,
         const std::function<Error(Error)>& hint = {}) {
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->get(path);
  if (!resp.ok()) return report(hint ? hint(resp.error()) : resp.error());
  auto value = decode(resp.value().body);
  if (!value.ok()) return report(value.error());
  return print_answer(ctx, resp.value().body, what, render(value.value()));
}

// Topic and group names: 1 to 200 characters of [A-Za-z0-9._-]
// (docs/api.md). `what` is "topic" or "group". invalid_argument otherwise.
Status check_name(std::string_view what, std::string_view name);

// A whole decimal number in [min, max] for `flag` ("--partitions"), with
// `example` as the hint when it is not. invalid_argument otherwise.
Result<std::int64_t> parse_int_flag(std::string_view flag,
                                    std::string_view text, std::int64_t min,
                                    std::int64_t max,
                                    std::string_view example = {});

// A time given by a user: RFC 3339 ("2026-11-22T10:00:00Z",
// "2026-11-22T10:00:00.123+02:00", "2026-11-22 10:00:00Z") or, with
// allow_relative, a duration before `now` ("-15m", "-1h30m"). Returns
// milliseconds since the Unix epoch. invalid_argument otherwise.
Result<std::int64_t> parse_time_ms(std::string_view text, WallTime now,
                                   bool allow_relative);

// A new API client for the global flags, for a worker thread (http::Client
// is one per thread). `timeout` is the per-request read/write timeout. Its
// connection is kept alive between requests: its users (produce, fetch,
// bench, group sessions) retry failed requests safely.
Result<std::unique_ptr<http::Client>> new_client(const Globals& globals,
                                                 Duration timeout);
// The factory RecordsApi uses to reach partition leaders directly.
// REQUIRES: `globals` outlives every call of the factory.
ClientFactory leader_client_factory(const Globals& globals, Duration timeout);
// As new_client, for the one agent at `addr` ("HOST:PORT"; the scheme of
// the first --addr is kept): RecordsApi's route to partition leaders.
Result<std::unique_ptr<http::Client>> new_client_at(const Globals& globals,
                                                    Duration timeout,
                                                    const std::string& addr);

// As new_client, but each request opens its own connection (no
// keep-alive), as Context::client() does: for requests that must not be
// sent twice or that come seconds apart (job runs, long-polls, lock
// renewals), with a per-request `timeout` of their own.
Result<std::unique_ptr<http::Client>> new_request_client(const Globals& globals,
                                                         Duration timeout);

// SIGINT and SIGTERM set a flag instead of killing nwctl, so a command can
// stop reading, commit, leave its group and exit cleanly; a second signal
// kills as usual (SA_RESETHAND). Blocking system calls on the main thread
// are interrupted (no SA_RESTART). Install once per command, on the main
// thread, before starting threads (spawn them with spawn_thread so the
// signal is delivered to the main thread).
class Interrupt {
 public:
  Interrupt();   // installs the handlers
  ~Interrupt();  // restores the previous handlers
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  static bool requested();
  // For tests and for commands that stop themselves (-n COUNT reached).
  static void request();
  static void reset();
};

// A thread with SIGINT and SIGTERM blocked, so those signals reach the
// main thread (whose blocking read or wait they interrupt).
std::thread spawn_thread(std::function<void()> fn);

// "nwctl-<hostname>-<pid>": the client id sent when joining a group.
std::string client_id();

}  // namespace nw::ctl
