// `nwctl job ...` (cli/job.h): decoders, tables, the apply plan, the log
// offsets and the run outcome; then the commands in-process against a
// scripted fake agent that records the requests.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/job.h"
#include "common/config/job_file.h"
#include "common/http/message.h"
#include "common/http/server.h"
#include "nwctl_runner.h"

namespace {

using nw::ctl::test::nwctl;
using nw::ctl::test::TempFile;

// 2026-12-01T02:00:00Z.
const nw::WallTime kNow =
    nw::WallTime(std::chrono::milliseconds(1'796'090'400'000LL));

constexpr const char* kRun = R"({"run_id": 1234, "job": "nightly-report",
  "slot": "2026-12-01T02:30:00.000Z", "slot_ms": 1764556200000,
  "attempt": 1, "trigger": "schedule", "agent": "n2", "shard_index": 0,
  "shard_count": 1, "state": "succeeded", "exit_code": 0,
  "reason": "exited", "created": "2026-12-01T02:30:00.004Z",
  "started": "2026-12-01T02:30:00.009Z",
  "ended": "2026-12-01T01:30:01.210Z", "duration_ms": 1201,
  "something_new": [1, 2]})";

std::string run_json(std::uint64_t id, const std::string& state,
                     nlohmann::json exit_code,
                     const std::string& reason = "exited") {
  return nlohmann::json{{"run_id", id},
                        {"job", "report"},
                        {"slot", "2026-12-01T02:00:00.000Z"},
                        {"attempt", 1},
                        {"trigger", "manual"},
                        {"agent", "n1"},
                        {"shard_index", 0},
                        {"shard_count", 1},
                        {"state", state},
                        {"exit_code", exit_code},
                        {"reason", reason},
                        {"created", "2026-12-01T02:00:00.000Z"},
                        {"started", nullptr},
                        {"ended", nullptr},
                        {"duration_ms", nullptr}}
      .dump();
}

// Answers every request with what `handler` says, recording requests.
class ScriptedAgent {
 public:
  using Handler = std::function<nw::http::Response(const nw::http::Request&)>;
  explicit ScriptedAgent(Handler handler)
      : handler_(std::move(handler)), server_(options()) {
    auto h = [this](const nw::http::Request& req) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      return handler_(req);
    };
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      server_.route(method, "/v1/.*", "any", h);
    }
    REQUIRE(server_.bind().ok());
    server_.start();
  }
  std::string addr() const {
    return "127.0.0.1:" + std::to_string(server_.port());
  }
  std::vector<nw::http::Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  static nw::http::ServerOptions options() {
    nw::http::ServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.threads = 4;
    return o;
  }
  Handler handler_;
  std::mutex mu_;
  std::vector<nw::http::Request> requests_;
  nw::http::Server server_;
};

nw::http::Response api_error(nw::Code code, std::string message) {
  return nw::http::Response::error(nw::Error(code, std::move(message)));
}

nw::http::Response logs_answer(std::string body, std::uint64_t offset,
                               std::uint64_t next, bool complete,
                               const std::string& state) {
  nw::http::Response r =
      nw::http::Response::text(std::move(body), "application/octet-stream");
  r.headers = {{"NW-Offset", std::to_string(offset)},
               {"NW-Next-Offset", std::to_string(next)},
               {"NW-Run-State", state},
               {"NW-Complete", complete ? "true" : "false"}};
  return r;
}

constexpr const char* kJobFile = R"([job.report]
command = ["/bin/true"]
schedule = "@hourly"
timeout = "15m"
)";

}  // namespace

TEST_SUITE("cli.job") {
  TEST_CASE("run_from_json.decodes_and_ignores_unknown_fields") {
    auto r = nw::ctl::run_from_json(kRun);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    CHECK(r->run_id == 1234);
    CHECK(r->job == "nightly-report");
    CHECK(r->agent == "n2");
    CHECK(r->exit_code == 0);
    CHECK(r->duration_ms == 1201);
    CHECK(nw::ctl::run_ended(r.value()));

    auto running = nw::ctl::run_from_json(run_json(5, "running", nullptr));
    REQUIRE(running.ok());
    CHECK_FALSE(running->exit_code.has_value());
    CHECK_FALSE(running->duration_ms.has_value());
    CHECK(running->started.empty());
    CHECK_FALSE(nw::ctl::run_ended(running.value()));

    auto bad = nw::ctl::run_from_json(R"({"run_id": 1, "state": "failed",
      "exit_code": "3"})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("exit_code") != std::string::npos);
    CHECK_FALSE(nw::ctl::run_from_json(R"({"state": "failed"})").ok());
  }

  TEST_CASE("render_job_list.columns_and_relative_times") {
    std::string body = R"({"jobs": [
      {"name": "probe", "kind": "shell", "enabled": false, "state": "paused",
       "schedule": "@every 10s", "timezone": "UTC", "version": 1,
       "next_run": null, "running": 0, "last_run": null},
      {"name": "nightly-report", "kind": "shell", "enabled": true,
       "state": "running", "schedule": "0 30 2 * * *",
       "timezone": "Europe/Berlin", "version": 3,
       "next_run": "2026-12-02T01:30:00.000Z", "running": 1,
       "last_run": )" + std::string(kRun) +
                       "}]}";
    auto jobs = nw::ctl::job_list_from_json(body);
    REQUIRE_MESSAGE(jobs.ok(), (jobs.ok() ? "" : jobs.error().message));
    REQUIRE(jobs->size() == 2);
    CHECK(jobs->at(0).name == "nightly-report");  // sorted by name
    auto lines =
        nw::ctl::test::lines_of(nw::ctl::render_job_list(jobs.value(), kNow));
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].rfind("NAME", 0) == 0);
    CHECK(lines[0].find("NEXT RUN") != std::string::npos);
    CHECK(lines[0].find("LAST RESULT") != std::string::npos);
    CHECK(lines[1].find("0 30 2 * * * (Europe/Berlin)") != std::string::npos);
    CHECK(lines[1].find("in 23h30m") != std::string::npos);
    CHECK(lines[1].find("succeeded, exit 0, 29m58s ago") != std::string::npos);
    CHECK(lines[2].find("paused") != std::string::npos);
    CHECK(lines[2].find(" - ") != std::string::npos);
  }

  TEST_CASE("relative_time.past_future_and_unparsable") {
    CHECK(nw::ctl::relative_time("2026-12-01T02:00:30Z", kNow) == "in 30s");
    CHECK(nw::ctl::relative_time("2026-11-29T00:00:00Z", kNow) == "2d2h ago");
    CHECK(nw::ctl::relative_time("2026-12-01T02:00:00.300Z", kNow) == "now");
    CHECK(nw::ctl::relative_time("", kNow) == "-");
    CHECK(nw::ctl::relative_time("soon", kNow) == "soon");
  }

  TEST_CASE("job_detail.spec_fields_and_runs") {
    std::string body =
        R"({"name": "report", "enabled": true, "state": "idle",
        "version": 2, "next_run": "2026-12-01T03:00:00.000Z", "missed": 4,
        "spec": {"command": ["/bin/true"], "schedule": "@hourly",
                 "timeout": "15m"},
        "runs": [)" +
        run_json(7, "failed", 3) + "]}";
    auto d = nw::ctl::job_detail_from_json(body);
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.error().message));
    std::string text = nw::ctl::render_job_detail(d.value(), kNow);
    CHECK(text.rfind("name: report\nstate: idle\nversion: 2\n", 0) == 0);
    CHECK(text.find("next_run: 2026-12-01T03:00:00.000Z (in 1h)\n") !=
          std::string::npos);
    CHECK(text.find("missed_slots: 4\n") != std::string::npos);
    CHECK(text.find("timeout: 15m\n") != std::string::npos);
    CHECK(text.find("schedule: \"@hourly\"\n") != std::string::npos);
    CHECK(text.find("RUN") != std::string::npos);
    CHECK(text.find("failed") != std::string::npos);

    // A newer agent's spec with a field this nwctl does not know is shown
    // as it came rather than refused.
    std::string newer = R"({"name": "report", "spec": {"schedule": "@hourly",
      "command": ["/bin/true"], "gpu": 2}})";
    auto n = nw::ctl::job_detail_from_json(newer);
    REQUIRE(n.ok());
    std::string t = nw::ctl::render_job_detail(n.value(), kNow);
    CHECK(t.find("gpu: 2\n") != std::string::npos);
    CHECK(t.find("no runs yet") != std::string::npos);
  }

  TEST_CASE("render_runs_and_missed.tables") {
    auto runs = nw::ctl::runs_from_json(
        R"({"runs": [)" + std::string(kRun) + "]}", "job history");
    REQUIRE(runs.ok());
    auto lines = nw::ctl::test::lines_of(nw::ctl::render_runs(runs.value()));
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] ==
          "RUN    SLOT                       TRIGGER    ATTEMPT   AGENT   "
          "STATE       EXIT   DURATION");
    CHECK(lines[1] ==
          "1234   2026-12-01T02:30:00.000Z   schedule   1         n2      "
          "succeeded   0      1s201ms");

    auto missed = nw::ctl::missed_from_json(
        R"({"missed": [{"job": "report", "slot": "2026-12-01T01:00:00.000Z",
        "slot_ms": 1764550800000, "reason": "job paused"}]})");
    REQUIRE(missed.ok());
    auto m = nw::ctl::test::lines_of(nw::ctl::render_missed(missed.value()));
    REQUIRE(m.size() == 2);
    CHECK(m[0].rfind("JOB", 0) == 0);
    CHECK(m[1].find("job paused") != std::string::npos);
  }

  TEST_CASE("apply.body_and_plan_from_the_answer") {
    auto loaded = nw::config::parse_job_toml(kJobFile, "jobs/a.toml");
    REQUIRE(loaded.ok());
    auto body = nlohmann::json::parse(
        nw::ctl::apply_body(nw::config::specs_of(loaded.value()), true, true));
    CHECK(body["prune"] == true);
    CHECK(body["dry_run"] == true);
    REQUIRE(body["jobs"].size() == 1);
    CHECK(body["jobs"][0]["name"] == "report");
    CHECK(body["jobs"][0]["timeout"] == "15m");
    CHECK(body["jobs"][0]["concurrency"] == "forbid");  // defaults included

    auto a = nw::ctl::apply_answer_from_json(R"({"applied": false,
      "added": ["backup-db"],
      "changed": [{"name": "nightly-report",
                   "fields": [{"key": "timeout", "old": "15m", "new": "20m"}]}],
      "removed": ["old-probe"], "kept": [],
      "unchanged": ["disk-check", "a", "b", "c"]})");
    REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error().message));
    CHECK_FALSE(a->applied);
    CHECK(nw::config::render_diff(a->diff) ==
          "+ job backup-db\n"
          "~ job nightly-report\n"
          "    timeout: 15m -> 20m\n"
          "- job old-probe\n"
          "plan: 1 to add, 1 to change, 1 to remove, 4 unchanged\n");
    CHECK(nw::ctl::applied_summary(a->diff) ==
          "applied: 1 added, 1 changed, 1 removed");
    CHECK(nw::ctl::applied_summary({}) == "applied: nothing changed");

    auto bad = nw::ctl::apply_answer_from_json(R"({"added": [1]})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("added[0]") != std::string::npos);
  }

  TEST_CASE("log_chunk.headers_defaults_and_errors") {
    auto r = logs_answer("hello", 10, 15, false, "running");
    auto c = nw::ctl::log_chunk_from_response(r, 10);
    REQUIRE(c.ok());
    CHECK(c->offset == 10);
    CHECK(c->next_offset == 15);
    CHECK(c->state == "running");
    CHECK_FALSE(c->complete);

    nw::http::Response bare = nw::http::Response::text("abc");
    c = nw::ctl::log_chunk_from_response(bare, 7);
    REQUIRE(c.ok());
    CHECK(c->offset == 7);
    CHECK(c->next_offset == 10);

    nw::http::Response broken = logs_answer("abc", 0, 1, false, "running");
    CHECK_FALSE(nw::ctl::log_chunk_from_response(broken, 0).ok());
    broken.headers = {{"NW-Offset", "x"}};
    CHECK_FALSE(nw::ctl::log_chunk_from_response(broken, 0).ok());
  }

  TEST_CASE("log_cursor.follows_offsets_and_counts_elided_bytes") {
    nw::ctl::LogCursor cursor;
    nw::ctl::LogChunk a;
    a.offset = 0;
    a.next_offset = 100;
    CHECK(cursor.advance(a) == 0);
    CHECK(cursor.offset() == 100);
    // The agent kept head and tail: the next answer starts further on.
    nw::ctl::LogChunk b;
    b.offset = 5000;
    b.next_offset = 5100;
    CHECK(cursor.advance(b) == 4900);
    CHECK(cursor.offset() == 5100);
    // An empty answer never moves the cursor backwards.
    nw::ctl::LogChunk empty;
    empty.offset = 5100;
    empty.next_offset = 5100;
    CHECK(cursor.advance(empty) == 0);
    CHECK(cursor.offset() == 5100);
    CHECK(nw::ctl::elided_note(4900) == "[... 4900 bytes elided ...]");
    CHECK(nw::ctl::logs_path(7, 5100, 5000) ==
          "/v1/runs/7/logs?offset=5100&wait_ms=5000");
    CHECK(nw::ctl::logs_path(7, 0, 0) == "/v1/runs/7/logs?offset=0");
  }

  TEST_CASE("run_outcome.exit_codes_and_runs_without_one") {
    auto ok = nw::ctl::run_from_json(run_json(1, "succeeded", 0));
    REQUIRE(ok.ok());
    CHECK(nw::ctl::run_outcome(ok.value()).exit_code == 0);
    CHECK(nw::ctl::run_outcome(ok.value()).note.empty());

    auto failed = nw::ctl::run_from_json(run_json(2, "failed", 3));
    REQUIRE(failed.ok());
    CHECK(nw::ctl::run_outcome(failed.value()).exit_code == 3);

    auto killed = nw::ctl::run_from_json(run_json(3, "timed_out", 137));
    REQUIRE(killed.ok());
    auto k = nw::ctl::run_outcome(killed.value());
    CHECK(k.exit_code == 137);
    CHECK(k.note.find("timed_out with exit code 137") != std::string::npos);

    auto lost = nw::ctl::run_from_json(
        run_json(4, "lost", nullptr, "agent n2 stopped renewing"));
    REQUIRE(lost.ok());
    auto l = nw::ctl::run_outcome(lost.value());
    CHECK(l.exit_code == 1);
    CHECK(l.note ==
          "run 4 ended lost without an exit code: agent n2 stopped renewing");

    auto odd = nw::ctl::run_from_json(run_json(5, "cancelled", 0));
    REQUIRE(odd.ok());
    CHECK(nw::ctl::run_outcome(odd.value()).exit_code == 1);

    CHECK(nw::ctl::first_failure({{0, ""}, {2, "x"}, {1, "y"}}) == 2);
    CHECK(nw::ctl::first_failure({{0, ""}}) == 0);
  }

  TEST_CASE("arguments.names_and_run_ids") {
    CHECK(nw::ctl::check_job_arg("nightly-report").ok());
    nw::Status bad = nw::ctl::check_job_arg("a b");
    REQUIRE_FALSE(bad.ok());
    CHECK(nw::exit_code(bad.error().code) == 2);
    CHECK(bad.error().message.rfind("job name: ", 0) == 0);
    CHECK(nw::ctl::parse_run_id("1234").value() == 1234);
    CHECK_FALSE(nw::ctl::parse_run_id("0").ok());
    CHECK_FALSE(nw::ctl::parse_run_id("12x").ok());
    CHECK(nw::ctl::job_path("a.b") == "/v1/jobs/a.b");
  }
}

TEST_SUITE("cli.job_command") {
  TEST_CASE("apply.bad_file_exits_2_and_sends_nothing") {
    ScriptedAgent agent([](const nw::http::Request&) {
      return nw::http::Response::json("{}");
    });
    TempFile file(
        "[job.report]\ncommand = [\"/bin/true\"]\n"
        "schedule = \"@hourly\"\ntimeot = \"15m\"\n");
    auto r = nwctl({"--addr", agent.addr(), "job", "apply", "-f", file.path()});
    CHECK(r.code == 2);
    CHECK(r.err.find(file.path() + ":4: job.report.timeot: unknown key") !=
          std::string::npos);
    CHECK(agent.requests().empty());

    auto missing =
        nwctl({"--addr", agent.addr(), "job", "apply", "-f", "/nonexistent"});
    CHECK(missing.code == 3);
    auto no_flag = nwctl({"--addr", agent.addr(), "job", "apply"});
    CHECK(no_flag.code == 2);
    CHECK(no_flag.err.find("--file is required") != std::string::npos);
  }

  TEST_CASE("apply.dry_run_prints_the_plan_and_says_nothing_changed") {
    ScriptedAgent agent([](const nw::http::Request&) {
      return nw::http::Response::json(
          R"({"applied": false, "added": ["report"], "changed": [],
              "removed": [], "kept": ["old"], "unchanged": []})");
    });
    TempFile file(kJobFile);
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "job", "apply", "-f",
                    file.path(), "--dry-run"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out.rfind("+ job report\nplan: 1 to add, 0 to change", 0) == 0);
    CHECK(r.err.find("dry run: nothing changed") != std::string::npos);
    auto reqs = agent.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].method == "POST");
    CHECK(reqs[0].path == "/v1/jobs/apply");
    auto body = nlohmann::json::parse(reqs[0].body);
    CHECK(body["dry_run"] == true);
    CHECK(body["prune"] == false);
    CHECK(body["jobs"][0]["name"] == "report");
  }

  TEST_CASE("apply.real_apply_says_what_was_applied") {
    ScriptedAgent agent([](const nw::http::Request&) {
      return nw::http::Response::json(
          R"({"applied": true, "added": [], "changed": [], "removed": ["x"],
              "kept": [], "unchanged": ["report"]})");
    });
    TempFile file(kJobFile);
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "job", "apply", "-f",
                    file.path(), "--prune"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out.find("- job x\n") != std::string::npos);
    CHECK(r.err.find("applied: 0 added, 0 changed, 1 removed") !=
          std::string::npos);
    CHECK(nlohmann::json::parse(agent.requests()[0].body)["prune"] == true);
  }

  TEST_CASE("run.prints_run_ids_without_wait") {
    ScriptedAgent agent([](const nw::http::Request&) {
      return nw::http::Response::json(
          "{\"runs\": [" + run_json(41, "dispatched", nullptr) + "," +
              run_json(42, "dispatched", nullptr) + "]}",
          201);
    });
    auto r =
        nwctl({"--addr", agent.addr(), "-o", "table", "job", "run", "report"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "41\n42\n");
    auto reqs = agent.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].path == "/v1/jobs/report/run");
  }

  TEST_CASE("run.conflict_exits_4_and_names_the_unfinished_run") {
    ScriptedAgent agent([](const nw::http::Request& req) {
      if (req.method == "POST") {
        return api_error(nw::Code::conflict, "job report: a run is unfinished");
      }
      return nw::http::Response::json(
          R"({"name": "report", "state": "running", "runs": [)" +
          run_json(77, "running", nullptr) + "]}");
    });
    auto r = nwctl({"--addr", agent.addr(), "job", "run", "report", "--wait"});
    CHECK(r.code == 4);
    CHECK(r.err.find("hint: job report runs one at a time (concurrency = "
                     "forbid) and run 77 is still unfinished") !=
          std::string::npos);
    CHECK(r.err.find("nwctl job kill 77") != std::string::npos);
  }

  TEST_CASE("run.wait_streams_output_notes_elision_and_exits_with_the_code") {
    std::atomic<int> polls{0};
    ScriptedAgent agent([&polls](const nw::http::Request& req) {
      if (req.method == "POST") {
        return nw::http::Response::json(
            "{\"runs\": [" + run_json(9, "dispatched", nullptr) + "]}", 201);
      }
      if (req.path == "/v1/runs/9/logs") {
        CHECK(req.has_param("wait_ms"));
        int n = ++polls;
        if (n == 1) return logs_answer("head\n", 0, 5, false, "running");
        CHECK(req.param("offset") == "5");
        if (n == 2) return logs_answer("", 5, 5, false, "running");
        // Asked for 5 again, after an empty long-poll: the middle was
        // elided and the tail starts at 100.
        return logs_answer("tail\n", 100, 105, true, "failed");
      }
      return nw::http::Response::json(run_json(9, "failed", 3));
    });
    auto r = nwctl({"--addr", agent.addr(), "job", "run", "report", "--wait"});
    CHECK_MESSAGE(r.code == 3, r.err);
    CHECK(r.out == "head\ntail\n");
    CHECK(r.err.find("[... 95 bytes elided ...]") != std::string::npos);
    CHECK(r.err.find("run 9 ended failed with exit code 3") !=
          std::string::npos);
    CHECK(polls.load() == 3);
  }

  TEST_CASE("run.wait_on_a_lost_run_exits_1_with_the_reason") {
    ScriptedAgent agent([](const nw::http::Request& req) {
      if (req.method == "POST") {
        return nw::http::Response::json(
            "{\"runs\": [" + run_json(9, "running", nullptr) + "]}", 201);
      }
      if (req.path == "/v1/runs/9/logs") {
        return api_error(nw::Code::unavailable, "agent n1 does not answer");
      }
      return nw::http::Response::json(
          run_json(9, "lost", nullptr, "agent n1 stopped renewing"));
    });
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "job", "run",
                    "report", "--wait"});
    CHECK(r.code == 1);
    CHECK(r.err.find("run 9 ended lost without an exit code: agent n1 "
                     "stopped renewing") != std::string::npos);
  }

  TEST_CASE("run.wait_on_shards_prints_each_and_exits_with_the_first_failure") {
    ScriptedAgent agent([](const nw::http::Request& req) {
      auto shard = [](std::uint64_t id, nlohmann::json code) {
        auto j = nlohmann::json::parse(
            run_json(id, code.is_null() ? "running" : "failed", code));
        j["shard_index"] = id - 1;
        j["shard_count"] = 3;
        if (code == 0) j["state"] = "succeeded";
        return j;
      };
      if (req.method == "POST") {
        return nw::http::Response::json(
            nlohmann::json{
                {"runs",
                 {shard(1, nullptr), shard(2, nullptr), shard(3, nullptr)}}}
                .dump(),
            201);
      }
      for (std::uint64_t id : {1, 2, 3}) {
        std::string p = "/v1/runs/" + std::to_string(id);
        if (req.path == p + "/logs") {
          return logs_answer("out " + std::to_string(id) + "\n", 0, 6, true,
                             "failed");
        }
        if (req.path == p) {
          return nw::http::Response::json(
              shard(id, id == 1 ? 0 : (id == 2 ? 5 : 6)).dump());
        }
      }
      return api_error(nw::Code::not_found, "no");
    });
    auto r = nwctl({"--addr", agent.addr(), "job", "run", "report", "--wait"});
    CHECK_MESSAGE(r.code == 5, r.err);
    CHECK(r.out == "out 1\nout 2\nout 3\n");
    CHECK(
        r.err.find("==> run 2 of job report: running on n1 (shard 1/3) <==") !=
        std::string::npos);
    CHECK(r.err.find("run 3 (shard 2/3) ended failed with exit code 6") !=
          std::string::npos);
  }

  TEST_CASE("run.wait_timeout_exits_7_and_leaves_the_run") {
    ScriptedAgent agent([](const nw::http::Request& req) {
      if (req.method == "POST") {
        return nw::http::Response::json(
            "{\"runs\": [" + run_json(9, "running", nullptr) + "]}", 201);
      }
      return logs_answer("", 0, 0, false, "running");
    });
    auto r = nwctl({"--addr", agent.addr(), "job", "run", "report", "--wait",
                    "--timeout", "300ms"});
    CHECK(r.code == 7);
    CHECK(r.err.find("run 9 did not end within 300ms") != std::string::npos);
    CHECK(r.err.find("nwctl job kill 9") != std::string::npos);
    for (const auto& req : agent.requests())
      CHECK(req.path != "/v1/runs/9/kill");
  }

  TEST_CASE("logs.prints_what_exists_and_stops") {
    ScriptedAgent agent([](const nw::http::Request& req) {
      CHECK_FALSE(req.has_param("wait_ms"));
      if (req.param("offset") == "0") {
        return logs_answer("line 1\n", 0, 7, false, "running");
      }
      return logs_answer("", 7, 7, false, "running");
    });
    auto r = nwctl({"--addr", agent.addr(), "job", "logs", "12"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "line 1\n");
    CHECK(agent.requests().size() == 2);

    auto json =
        nwctl({"--addr", agent.addr(), "-o", "json", "job", "logs", "12"});
    CHECK(json.code == 0);
    auto j = nlohmann::json::parse(json.out);
    CHECK(j["output"] == "line 1\n");
    CHECK(j["complete"] == false);

    auto bad = nwctl({"--addr", agent.addr(), "job", "logs", "abc"});
    CHECK(bad.code == 2);
    CHECK(bad.err.find("run id: expected a positive whole number") !=
          std::string::npos);
  }

  TEST_CASE("list_history_missed_and_delete.paths") {
    ScriptedAgent agent([](const nw::http::Request& req) {
      if (req.method == "DELETE") return nw::http::Response::json("", 204);
      if (req.path == "/v1/jobs/missed") {
        return nw::http::Response::json(R"({"missed": []})");
      }
      if (req.path == "/v1/jobs/nope/history") {
        return api_error(nw::Code::not_found, "job \"nope\": not found");
      }
      return nw::http::Response::json(R"({"runs": [], "jobs": []})");
    });
    auto list = nwctl({"--addr", agent.addr(), "-o", "table", "job", "list"});
    CHECK(list.code == 0);
    CHECK(list.out.rfind("NAME", 0) == 0);
    auto history =
        nwctl({"--addr", agent.addr(), "job", "history", "report", "-n", "5"});
    CHECK(history.code == 0);
    auto missing = nwctl({"--addr", agent.addr(), "job", "history", "nope"});
    CHECK(missing.code == 3);
    CHECK(missing.err.find("hint: list the jobs with: nwctl job list") !=
          std::string::npos);
    auto bad_n =
        nwctl({"--addr", agent.addr(), "job", "history", "report", "-n", "0"});
    CHECK(bad_n.code == 2);
    auto missed = nwctl({"--addr", agent.addr(), "job", "missed", "report"});
    CHECK(missed.code == 0);
    auto del = nwctl(
        {"--addr", agent.addr(), "-o", "json", "job", "delete", "report"});
    CHECK(del.code == 0);
    CHECK(nlohmann::json::parse(del.out)["deleted"] == true);

    auto reqs = agent.requests();
    REQUIRE(reqs.size() == 5);
    CHECK(reqs[0].path == "/v1/jobs");
    CHECK(reqs[1].path == "/v1/jobs/report/history");
    CHECK(reqs[1].param("limit") == "5");
    CHECK(reqs[3].path == "/v1/jobs/missed");
    CHECK(reqs[3].param("job") == "report");
    CHECK(reqs[4].method == "DELETE");
  }

  TEST_CASE("usage_errors.exit_2") {
    CHECK(nwctl({"job", "show"}).code == 2);
    CHECK(nwctl({"job", "run"}).code == 2);
    CHECK(nwctl({"job", "kill", "x"}).code == 2);
    auto r = nwctl({"job", "run", "report", "--timeout", "10s"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--timeout needs --wait") != std::string::npos);
    auto name = nwctl({"job", "pause", "bad/name"});
    CHECK(name.code == 2);
    CHECK(name.err.find("job name: ") != std::string::npos);
  }
}
