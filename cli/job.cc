// `nwctl job apply|list|show|run|history|logs|kill|pause|resume|delete|
// missed`: the commands over /v1/jobs and /v1/runs (docs/api.md, "Jobs").
// Bodies, decoders and tables live in job_format.cc (job.h); `job run` and
// `job logs`, which follow a run's output, in job_run.cc.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cluster.h"
#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/job.h"
#include "common/api/json.h"
#include "common/config/job_file.h"
#include "common/http/client.h"
#include "common/http/url.h"

namespace nw::ctl {
namespace {

struct ApplyFlags {
  std::string path;
  bool dry_run = false;
  bool prune = false;
};

struct NameFlags {
  std::string name;
};

struct HistoryFlags {
  std::string name;
  std::string limit = "20";
};

struct RunIdFlags {
  std::string run_id;
};

Error with_job_hint(Error e) {
  if (e.code == Code::not_found && e.hint.empty()) {
    e.hint = "list the jobs with: nwctl job list";
  }
  return e;
}

Error with_run_hint(Error e) {
  if (e.code == Code::not_found && e.hint.empty()) {
    e.hint = "find the run ids with: nwctl job history JOB";
  }
  if (e.code == Code::failed_precondition && e.hint.empty()) {
    e.hint = "the run already ended; see it with: nwctl job history JOB";
  }
  return e;
}

int run_apply(Context& ctx, const ApplyFlags& flags) {
  // Everything is checked locally before anything is sent: a bad file
  // changes nothing.
  auto loaded = config::load_jobs(flags.path);
  if (!loaded.ok()) return report(loaded.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post(
      "/v1/jobs/apply",
      apply_body(config::specs_of(loaded.value()), flags.prune, flags.dry_run));
  if (!resp.ok()) return report(resp.error());
  auto answer = apply_answer_from_json(resp.value().body);
  if (!answer.ok()) return report(answer.error());
  int rc = print_answer(ctx, resp.value().body, "job apply",
                        config::render_diff(answer->diff));
  if (rc != 0) return rc;
  if (flags.dry_run || !answer->applied) {
    std::cerr << "nwctl: dry run: nothing changed; run again without "
                 "--dry-run to apply\n";
  } else {
    std::cerr << "nwctl: " << applied_summary(answer->diff) << "\n";
  }
  return 0;
}

int run_list(Context& ctx) {
  return show(
      ctx, "/v1/jobs", "job list", job_list_from_json,
      [](const auto& jobs) { return render_job_list(jobs, wall_now()); });
}

int run_show(Context& ctx, const NameFlags& flags) {
  if (Status s = check_job_arg(flags.name); !s.ok()) return report(s.error());
  return show(
      ctx, job_path(flags.name), "job", job_detail_from_json,
      [](const auto& job) { return render_job_detail(job, wall_now()); },
      with_job_hint);
}

int run_history(Context& ctx, const HistoryFlags& flags) {
  if (Status s = check_job_arg(flags.name); !s.ok()) return report(s.error());
  auto limit = parse_int_flag("-n/--limit", flags.limit, 1, 1000,
                              "e.g. -n 50 for the last 50 runs");
  if (!limit.ok()) return report(limit.error());
  return show(
      ctx, job_path(flags.name) + "/history?limit=" + std::to_string(*limit),
      "job history",
      [](std::string_view body) { return runs_from_json(body, "job history"); },
      [](const auto& runs) { return render_runs(runs); }, with_job_hint);
}

int run_kill(Context& ctx, const RunIdFlags& flags) {
  auto id = parse_run_id(flags.run_id);
  if (!id.ok()) return report(id.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post(run_path(*id) + "/kill", "{}");
  if (!resp.ok()) return report(with_run_hint(resp.error()));
  auto run = run_from_json(resp.value().body);
  if (!run.ok()) return report(run.error());
  return print_answer(ctx, resp.value().body, "run",
                      "cancelling " + describe_run(run.value()) + "\n");
}

int run_pause(Context& ctx, const NameFlags& flags, bool pause) {
  if (Status s = check_job_arg(flags.name); !s.ok()) return report(s.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post(
      job_path(flags.name) + (pause ? "/pause" : "/resume"), "{}");
  if (!resp.ok()) return report(with_job_hint(resp.error()));
  std::string text = pause ? "paused job " + flags.name +
                                 " (its slots are recorded as missed; "
                                 "'nwctl job resume' restarts them)\n"
                           : "resumed job " + flags.name + "\n";
  return print_answer(ctx, resp.value().body, "job", text);
}

int run_delete(Context& ctx, const NameFlags& flags) {
  if (Status s = check_job_arg(flags.name); !s.ok()) return report(s.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->del(job_path(flags.name));
  if (!resp.ok()) return report(with_job_hint(resp.error()));
  if (ctx.output() == Output::json) {
    print_json(api::to_body(
        nlohmann::json{{"job", flags.name}, {"deleted", true}}, 2));
  } else {
    print_text("deleted job " + flags.name + "\n");
  }
  return 0;
}

int run_missed(Context& ctx, const NameFlags& flags) {
  std::string path = "/v1/jobs/missed";
  if (!flags.name.empty()) {
    if (Status s = check_job_arg(flags.name); !s.ok()) {
      return report(s.error());
    }
    path += "?job=" + http::percent_encode(flags.name);
  }
  return show(
      ctx, path, "missed runs", missed_from_json,
      [](const auto& m) { return render_missed(m); }, with_job_hint);
}

// A verb whose one argument is a job name.
CLI::App* add_name_command(CLI::App* job, const std::string& verb,
                           const std::string& help,
                           const std::shared_ptr<NameFlags>& flags) {
  CLI::App* cmd = job->add_subcommand(verb, help);
  cmd->add_option("name", flags->name, "the job")
      ->required()
      ->type_name("NAME");
  return cmd;
}

}  // namespace

void add_job_commands(Cli& cli) {
  CLI::App* job = cli.app->add_subcommand(
      "job", "Apply, list, run and follow scheduled jobs");
  job->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job apply -f jobs/ --dry-run\n"
      "  nwctl job run nightly-report --wait\n\n"
      "Job files are described in docs/jobs.md. Run 'nwctl job <command> "
      "--help' for a command."));
  const Globals* globals = &cli.globals;

  auto apply_flags = std::make_shared<ApplyFlags>();
  CLI::App* apply = job->add_subcommand(
      "apply",
      "Create or change the jobs defined in TOML files; prints the plan");
  apply
      ->add_option("-f,--file", apply_flags->path,
                   "a job file, or a folder: every *.toml file directly in it")
      ->required()
      ->type_name("PATH");
  apply->add_flag("--dry-run", apply_flags->dry_run,
                  "print the plan and change nothing");
  apply->add_flag("--prune", apply_flags->prune,
                  "also delete the jobs that are in no file");
  apply->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job apply -f jobs/report.toml\n"
      "  nwctl job apply -f jobs/ --dry-run\n"
      "  nwctl job apply -f jobs/ --prune\n\n"
      "The files are checked before anything is sent: an error names the "
      "file, line and key and exits 2 with nothing changed. Plan lines: + "
      "new job, ~ changed job (one line per key), - deleted job."));
  cli.actions[apply] = [apply_flags](Context& ctx) {
    return run_apply(ctx, *apply_flags);
  };

  CLI::App* list = job->add_subcommand(
      "list", "List the jobs: state, schedule, next run, last result");
  list->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job list\n"
      "  nwctl -o json job list | jq -r '.jobs[] | select(.state == "
      "\"paused\") | .name'"));
  cli.actions[list] = [](Context& ctx) { return run_list(ctx); };

  auto show_flags = std::make_shared<NameFlags>();
  CLI::App* show_cmd = add_name_command(
      job, "show", "Show a job's definition and its recent runs", show_flags);
  show_cmd->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job show nightly-report\n"
      "  nwctl -o json job show nightly-report | jq .spec.timeout\n\n"
      "Exits 3 for an unknown job."));
  cli.actions[show_cmd] = [show_flags](Context& ctx) {
    return run_show(ctx, *show_flags);
  };

  auto run_flags = std::make_shared<JobRunFlags>();
  CLI::App* run = job->add_subcommand(
      "run",
      "Start a job now; with --wait follow its output and exit "
      "with its exit code");
  run->add_option("name", run_flags->job, "the job")
      ->required()
      ->type_name("NAME");
  run->add_flag("-w,--wait", run_flags->wait,
                "stream the run's output and exit with the job's exit code");
  run->add_option("--timeout", run_flags->timeout,
                  "with --wait: stop waiting after this long (exit 7; the "
                  "run goes on)")
      ->type_name("DURATION");
  run->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job run nightly-report            # prints the run id\n"
      "  nwctl job run nightly-report --wait     # output, then its exit code\n"
      "  nwctl job run nightly-report --wait --timeout 30m\n\n"
      "Without --wait it prints the run id (one per shard) and exits 0. "
      "With --wait the output goes to stdout as it comes (-o json: to "
      "stderr, then the ended runs as JSON on stdout) and nwctl exits with "
      "the job's exit code; a run that ended without one (lost, cancelled "
      "before it started, could not start) prints its state and reason "
      "and exits 1. A sharded job waits for every shard, prints each "
      "one's output in turn and exits with the first non-zero code. "
      "Exits 4 when a run is still unfinished and the job's concurrency "
      "is forbid, 7 when --timeout passes. Ctrl-C stops waiting, not the "
      "run."));
  cli.actions[run] = [run_flags, globals](Context& ctx) {
    return run_job_run(ctx, *globals, *run_flags);
  };

  auto history_flags = std::make_shared<HistoryFlags>();
  CLI::App* history =
      job->add_subcommand("history", "List a job's recent runs, newest first");
  history->add_option("name", history_flags->name, "the job")
      ->required()
      ->type_name("NAME");
  history
      ->add_option("-n,--limit", history_flags->limit, "how many runs (1-1000)")
      ->default_str("20")
      ->type_name("N");
  history->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job history nightly-report\n"
      "  nwctl job history nightly-report -n 100\n\n"
      "The cluster keeps the last 50 finished runs of each job."));
  cli.actions[history] = [history_flags](Context& ctx) {
    return run_history(ctx, *history_flags);
  };

  auto logs_flags = std::make_shared<JobLogsFlags>();
  CLI::App* logs =
      job->add_subcommand("logs", "Print a run's output (stdout and stderr)");
  logs->add_option("run_id", logs_flags->run_id, "the run id")
      ->required()
      ->type_name("RUN_ID");
  logs->add_flag("-f,--follow", logs_flags->follow,
                 "keep printing until the run ends");
  logs->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl job logs 1234\n"
      "  nwctl job logs 1234 --follow\n\n"
      "Prints the output as it was written. When the middle of a long "
      "output was not kept (output_limit), a note says how many bytes are "
      "missing on stderr. With -o json: one object {run_id, state, "
      "complete, elided_bytes, output} once the output is read."));
  cli.actions[logs] = [logs_flags, globals](Context& ctx) {
    return run_job_logs(ctx, *globals, *logs_flags);
  };

  auto kill_flags = std::make_shared<RunIdFlags>();
  CLI::App* kill = job->add_subcommand(
      "kill", "Cancel a run (SIGTERM, then SIGKILL after the grace period)");
  kill->add_option("run_id", kill_flags->run_id, "the run id")
      ->required()
      ->type_name("RUN_ID");
  kill->footer(command_footer(
      cli,
      "Example:\n  nwctl job kill 1234\n\n"
      "Exits 3 for an unknown run and 4 when it already ended."));
  cli.actions[kill] = [kill_flags](Context& ctx) {
    return run_kill(ctx, *kill_flags);
  };

  auto pause_flags = std::make_shared<NameFlags>();
  CLI::App* pause = add_name_command(
      job, "pause", "Stop scheduling a job (it can still be run by hand)",
      pause_flags);
  pause->footer(command_footer(
      cli,
      "Example:\n  nwctl job pause nightly-report\n\n"
      "A paused job's slots are listed by 'nwctl job missed'. Running runs "
      "go on."));
  cli.actions[pause] = [pause_flags](Context& ctx) {
    return run_pause(ctx, *pause_flags, true);
  };

  auto resume_flags = std::make_shared<NameFlags>();
  CLI::App* resume = add_name_command(
      job, "resume", "Schedule a paused job again", resume_flags);
  resume->footer(
      command_footer(cli, "Example:\n  nwctl job resume nightly-report"));
  cli.actions[resume] = [resume_flags](Context& ctx) {
    return run_pause(ctx, *resume_flags, false);
  };

  auto delete_flags = std::make_shared<NameFlags>();
  CLI::App* del =
      add_name_command(job, "delete", "Delete a job (no prompt)", delete_flags);
  del->footer(command_footer(
      cli,
      "Example:\n  nwctl job delete old-probe\n\n"
      "Unfinished runs are not stopped: they finish, then are forgotten. "
      "A job that is still in a file comes back with the next 'job apply'. "
      "Exits 3 for an unknown job."));
  cli.actions[del] = [delete_flags](Context& ctx) {
    return run_delete(ctx, *delete_flags);
  };

  auto missed_flags = std::make_shared<NameFlags>();
  CLI::App* missed =
      job->add_subcommand("missed", "List the slots that did not run, and why");
  missed->add_option("name", missed_flags->name, "only this job")
      ->type_name("NAME");
  missed->footer(
      command_footer(cli,
                     "Examples:\n"
                     "  nwctl job missed\n"
                     "  nwctl job missed nightly-report\n\n"
                     "Oldest first; the last 1000 per job are kept."));
  cli.actions[missed] = [missed_flags](Context& ctx) {
    return run_missed(ctx, *missed_flags);
  };
}

}  // namespace nw::ctl
