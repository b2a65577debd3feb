// `nwctl job run [--wait]` and `nwctl job logs [--follow]`: start a run and
// follow a run's output over GET /v1/runs/{id}/logs (docs/api.md, "Jobs").
//
// The output is read with long-polls of at most kLogWait, each on its own
// connection with a read timeout of --timeout (global) plus the wait, so
// Ctrl-C (checked between polls) stops within a few seconds. LogCursor
// (job_format.cc) keeps the offset; NW-Offset beyond the offset asked for
// means the agent elided that many bytes, which gets a note on stderr.
//
// When the output cannot be read (its agent is down, or no longer has it)
// the run itself is asked for: an ended run stops the reading with a note,
// an unfinished one is retried after a second (it may not have started
// yet). Threads: the main thread only.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/job.h"
#include "common/api/json.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

constexpr Duration kLogWait = std::chrono::seconds(5);
constexpr Duration kRetryPause = std::chrono::seconds(1);
// With kRetryPause between them: about half a minute of an agent, or its
// output, not answering before --wait/--follow gives up.
constexpr int kMaxFailedPolls = 30;

// Errors after which the output may still come: the run has not started
// on its agent yet, or the agent or the leader is briefly away.
bool transient(Code code) {
  return code == Code::not_found || code == Code::unavailable ||
         code == Code::timeout;
}

using Sink = std::function<void(std::string_view)>;

// A deadline that may be absent (wait for ever).
struct Deadline {
  std::optional<MonoTime> at;
  bool passed() const { return at && mono_now() >= *at; }
  Duration left(Duration cap) const {
    if (!at) return cap;
    auto d = std::chrono::duration_cast<Duration>(*at - mono_now());
    return std::max(Duration(0), std::min(cap, d));
  }
};

Error stopped(std::uint64_t run_id) {
  return Error(
      Code::cancelled, "stopped waiting for run " + std::to_string(run_id),
      "the run goes on; stop it with: nwctl job kill " + std::to_string(run_id),
      "cli");
}

Error waited_too_long(std::uint64_t run_id, const std::string& timeout) {
  return Error(
      Code::timeout,
      "run " + std::to_string(run_id) + " did not end within " + timeout,
      "the run goes on; follow it with: nwctl job logs " +
          std::to_string(run_id) +
          " --follow, or stop it with: nwctl job kill " +
          std::to_string(run_id),
      "cli");
}

// Sleeps for d, waking early on Ctrl-C.
void pause_for(Duration d) {
  MonoTime end = mono_now() + d;
  while (!Interrupt::requested() && mono_now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Result<JobRun> get_run(Context& ctx, std::uint64_t run_id,
                       std::string* body = nullptr) {
  NW_ASSIGN_OR_RETURN(http::Client * client, ctx.client());
  NW_ASSIGN_OR_RETURN(http::Response resp, client->get(run_path(run_id)));
  if (body) *body = resp.body;
  return run_from_json(resp.body);
}

struct StreamResult {
  std::string state;  // the last NW-Run-State seen
  bool complete = false;
  std::uint64_t elided = 0;
};

// Reads run_id's output from the start into `sink`. Without `follow` it
// stops at the end of what exists now; with it, when the run has ended and
// its output is all read. Errors: the agent's (not_found for an unknown
// run), cancelled on Ctrl-C, timeout when `deadline` passes.
Result<StreamResult> stream_output(Context& ctx, const Globals& globals,
                                   std::uint64_t run_id, bool follow,
                                   const Deadline& deadline,
                                   const std::string& timeout_text,
                                   const Sink& sink) {
  LogCursor cursor;
  StreamResult out;
  int failures = 0;  // polls in a row that failed
  for (;;) {
    if (Interrupt::requested()) return stopped(run_id);
    if (deadline.passed()) return waited_too_long(run_id, timeout_text);
    const Duration wait = follow ? deadline.left(kLogWait) : Duration(0);
    NW_ASSIGN_OR_RETURN(auto client,
                        new_request_client(globals, ctx.timeout() + wait));
    const MonoTime asked = mono_now();
    auto resp = client->get(logs_path(
        run_id, cursor.offset(), static_cast<std::uint64_t>(wait.count())));
    if (!resp.ok()) {
      if (!follow) return resp.error();
      // The output may be gone with its agent, or not there yet.
      auto run = get_run(ctx, run_id);
      if (run.ok() && run_ended(run.value())) {
        std::cerr << "nwctl: the output of run " << run_id
                  << " cannot be read: " << resp.error().message << "\n";
        out.state = run->state;
        return out;
      }
      if (!run.ok() && !transient(run.error().code)) return run.error();
      if (!transient(resp.error().code) || ++failures > kMaxFailedPolls) {
        return resp.error();
      }
      if (failures == 1) {
        std::cerr << "nwctl: cannot read the output of run " << run_id
                  << " yet: " << resp.error().message << "; retrying"
                  << std::endl;
      }
      pause_for(kRetryPause);
      continue;
    }
    failures = 0;
    auto chunk = log_chunk_from_response(resp.value(), cursor.offset());
    if (!chunk.ok()) return chunk.error();
    if (std::uint64_t elided = cursor.advance(chunk.value())) {
      out.elided += elided;
      std::fflush(stdout);
      std::cerr << elided_note(elided) << std::endl;
    }
    if (!resp->body.empty()) sink(resp->body);
    if (!chunk->state.empty()) out.state = chunk->state;
    if (chunk->complete) {
      out.complete = true;
      return out;
    }
    if (resp->body.empty()) {
      if (!follow) return out;
      // An ended run whose answer is not marked complete (an older agent):
      // nothing more will come.
      if (run_state_ended(chunk->state)) return out;
      // An agent that answers at once although asked to wait: do not spin.
      if (mono_now() - asked < wait / 2) {
        pause_for(std::chrono::milliseconds(200));
      }
    }
  }
}

void write_stdout(std::string_view data) {
  std::fwrite(data.data(), 1, data.size(), stdout);
  std::fflush(stdout);
}

void write_stderr(std::string_view data) {
  std::fwrite(data.data(), 1, data.size(), stderr);
  std::fflush(stderr);
}

// The hint for `conflict`: which runs are unfinished and what to do.
Error with_conflict_hint(Context& ctx, const std::string& job, Error e) {
  if (e.code == Code::not_found && e.hint.empty()) {
    e.hint = "list the jobs with: nwctl job list";
  }
  if (e.code != Code::conflict) return e;
  std::vector<std::string> ids;
  auto client = ctx.client();
  if (client.ok()) {
    auto resp = client.value()->get(job_path(job));
    if (resp.ok()) {
      auto detail = job_detail_from_json(resp->body);
      if (detail.ok()) {
        for (const JobRun& r : detail->runs) {
          if (!run_ended(r)) ids.push_back(std::to_string(r.run_id));
        }
      }
    }
  }
  std::string which = ids.empty() ? "RUN_ID" : ids.front();
  e.hint = "job " + job + " runs one at a time (concurrency = forbid) and " +
           (ids.empty() ? std::string("a run is still unfinished")
                        : "run " + ids.front() + " is still unfinished") +
           ": wait for it with 'nwctl job logs " + which +
           " --follow', or stop it with 'nwctl job kill " + which + "'";
  return e;
}

}  // namespace

int run_job_run(Context& ctx, const Globals& globals,
                const JobRunFlags& flags) {
  if (Status s = check_job_arg(flags.job); !s.ok()) return report(s.error());
  Deadline deadline;
  if (!flags.timeout.empty()) {
    auto d = parse_duration(flags.timeout);
    if (!d.ok() || d->count() <= 0) {
      return report(
          usage("--timeout: expected a duration such as 30s or "
                "1h, got " +
                    single_quote(flags.timeout),
                "e.g. nwctl job run " + flags.job + " --wait --timeout 30m"));
    }
    if (!flags.wait) {
      return report(
          usage("--timeout needs --wait",
                "e.g. nwctl job run " + flags.job + " --wait --timeout 30m"));
    }
    deadline.at = mono_now() + d.value();
  }
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post(job_path(flags.job) + "/run", "{}");
  if (!resp.ok()) {
    return report(with_conflict_hint(ctx, flags.job, resp.error()));
  }
  auto runs = runs_from_json(resp->body, "job run");
  if (!runs.ok()) return report(runs.error());
  if (!flags.wait) {
    std::string text;
    for (const JobRun& r : runs.value()) {
      text += std::to_string(r.run_id) + "\n";
      std::cerr << "nwctl: started " << describe_run(r) << "\n";
    }
    return print_answer(ctx, resp->body, "job run", text);
  }

  // Explicit -o json keeps stdout for the JSON answer; the output goes to
  // stderr. Otherwise (a terminal, or a pipe by default) to stdout.
  const bool json = globals.output == "json";
  const Sink sink = json ? Sink(write_stderr) : Sink(write_stdout);
  Interrupt interrupt;
  std::vector<RunOutcome> outcomes;
  nlohmann::json ended = nlohmann::json::array();
  const bool several = runs->size() > 1;
  for (const JobRun& r : runs.value()) {
    if (several) {
      std::fflush(stdout);
      std::cerr << "==> " << describe_run(r) << " <==" << std::endl;
    }
    auto streamed = stream_output(ctx, globals, r.run_id, true, deadline,
                                  flags.timeout, sink);
    if (!streamed.ok()) {
      if (streamed.error().code == Code::timeout ||
          streamed.error().code == Code::cancelled) {
        return report(streamed.error());
      }
      std::cerr << "nwctl: cannot read the output of run " << r.run_id << ": "
                << streamed.error().message << "\n";
    }
    // The output is complete once the run ended; its record may still be
    // catching up on the leader for a moment.
    for (;;) {
      std::string body;
      auto run = get_run(ctx, r.run_id, &body);
      if (!run.ok()) return report(run.error());
      if (run_ended(run.value())) {
        RunOutcome o = run_outcome(run.value());
        if (!o.note.empty()) std::cerr << "nwctl: " << o.note << "\n";
        outcomes.push_back(o);
        ended.push_back(nlohmann::json::parse(body, nullptr, false));
        break;
      }
      if (Interrupt::requested()) return report(stopped(r.run_id));
      if (deadline.passed()) {
        return report(waited_too_long(r.run_id, flags.timeout));
      }
      pause_for(std::chrono::milliseconds(500));
    }
  }
  if (json) print_json(api::to_body(nlohmann::json{{"runs", ended}}, 2));
  return first_failure(outcomes);
}

int run_job_logs(Context& ctx, const Globals& globals,
                 const JobLogsFlags& flags) {
  auto id = parse_run_id(flags.run_id);
  if (!id.ok()) return report(id.error());
  const bool json = globals.output == "json";
  std::string collected;
  const Sink sink =
      json ? Sink([&collected](std::string_view d) { collected.append(d); })
           : Sink(write_stdout);
  Interrupt interrupt;
  auto streamed =
      stream_output(ctx, globals, *id, flags.follow, Deadline{}, {}, sink);
  if (!streamed.ok()) {
    Error e = streamed.error();
    if (e.code == Code::cancelled) return 0;  // Ctrl-C ends --follow
    if (e.code == Code::not_found && e.hint.empty()) {
      e.hint =
          "find the run ids with: nwctl job history JOB (an agent keeps "
          "the output of its runs only while it has them in its history)";
    }
    return report(e);
  }
  if (json) {
    print_json(api::to_body(nlohmann::json{{"run_id", *id},
                                           {"state", streamed->state},
                                           {"complete", streamed->complete},
                                           {"elided_bytes", streamed->elided},
                                           {"output", collected}},
                            2));
  }
  return 0;
}

}  // namespace nw::ctl
