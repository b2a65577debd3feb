// The pure half of the job commands (see job.h).
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/job.h"
#include "cli/json_read.h"
#include "common/api/json.h"
#include "common/base/strings.h"
#include "common/base/units.h"
#include "common/config/job_codec.h"
#include "common/http/message.h"
#include "common/http/url.h"

namespace nw::ctl {
namespace {

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, "cli");
}

Result<std::string> string_value(const nlohmann::json& e,
                                 const std::string& w) {
  if (!e.is_string()) return invalid(w + ": expected a string");
  return e.get<std::string>();
}

// A number field that may be null or absent.
template <class T>
Status optional_number(const nlohmann::json& j, std::string_view key,
                       const std::string& what, std::optional<T>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ok_status();
  bool ok =
      std::is_signed_v<T> ? it->is_number_integer() : it->is_number_unsigned();
  if (!ok) {
    return invalid(what + ": field \"" + std::string(key) +
                   "\": expected an integer, got " + it->type_name());
  }
  out = it->get<T>();
  return ok_status();
}

Result<JobRun> run_from_value(const nlohmann::json& j,
                              const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object");
  JobRun r;
  api::ObjectReader rd(j, what);
  rd.required("run_id", r.run_id);
  rd.optional("job", r.job);
  rd.optional("slot", r.slot);
  rd.optional("attempt", r.attempt);
  rd.optional("trigger", r.trigger);
  rd.optional("agent", r.agent);
  rd.optional("shard_index", r.shard_index);
  rd.optional("shard_count", r.shard_count);
  rd.required("state", r.state);
  rd.optional("reason", r.reason);
  rd.optional("created", r.created);
  rd.optional("started", r.started);
  rd.optional("ended", r.ended);
  NW_RETURN_IF_ERROR(rd.status());
  NW_RETURN_IF_ERROR(optional_number(j, "exit_code", what, r.exit_code));
  NW_RETURN_IF_ERROR(optional_number(j, "duration_ms", what, r.duration_ms));
  if (r.shard_count == 0) r.shard_count = 1;
  return r;
}

Result<JobSummary> summary_from_value(const nlohmann::json& j,
                                      const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object");
  JobSummary s;
  api::ObjectReader rd(j, what);
  rd.required("name", s.name);
  rd.optional("kind", s.kind);
  rd.optional("enabled", s.enabled);
  rd.optional("state", s.state);
  rd.optional("schedule", s.schedule);
  rd.optional("timezone", s.timezone);
  rd.optional("version", s.version);
  rd.optional("next_run", s.next_run);
  rd.optional("running", s.running);
  NW_RETURN_IF_ERROR(rd.status());
  auto last = j.find("last_run");
  if (last != j.end() && !last->is_null()) {
    NW_ASSIGN_OR_RETURN(s.last_run, run_from_value(*last, what + ": last_run"));
  }
  return s;
}

Result<MissedSlot> missed_from_value(const nlohmann::json& j,
                                     const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object");
  MissedSlot m;
  api::ObjectReader rd(j, what);
  rd.required("job", m.job);
  rd.optional("slot", m.slot);
  rd.optional("reason", m.reason);
  NW_RETURN_IF_ERROR(rd.status());
  return m;
}

Result<config::FieldChange> field_change_from_value(const nlohmann::json& j,
                                                    const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object");
  config::FieldChange f;
  api::ObjectReader rd(j, what);
  rd.required("key", f.key);
  rd.optional("old", f.old_value);
  rd.optional("new", f.new_value);
  NW_RETURN_IF_ERROR(rd.status());
  return f;
}

Result<config::JobChange> job_change_from_value(const nlohmann::json& j,
                                                const std::string& what) {
  if (!j.is_object()) return invalid(what + ": expected an object");
  config::JobChange c;
  api::ObjectReader rd(j, what);
  rd.required("name", c.name);
  NW_RETURN_IF_ERROR(rd.status());
  NW_RETURN_IF_ERROR(
      read_array(j, "fields", what, c.fields, field_change_from_value));
  return c;
}

// "3h12m", "45s", "2d4h": the two largest units, rounded down.
std::string coarse_duration(std::int64_t ms) {
  std::int64_t s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  std::int64_t m = s / 60;
  if (m < 60) {
    return std::to_string(m) + "m" +
           (s % 60 ? std::to_string(s % 60) + "s" : "");
  }
  std::int64_t h = m / 60;
  if (h < 24) {
    return std::to_string(h) + "h" +
           (m % 60 ? std::to_string(m % 60) + "m" : "");
  }
  return std::to_string(h / 24) + "d" +
         (h % 24 ? std::to_string(h % 24) + "h" : "");
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string last_result(const JobSummary& j, WallTime now) {
  if (!j.last_run) return "-";
  const JobRun& r = *j.last_run;
  std::string out = r.state;
  if (r.exit_code) out += ", exit " + std::to_string(*r.exit_code);
  const std::string& when = !r.ended.empty()     ? r.ended
                            : !r.started.empty() ? r.started
                                                 : r.created;
  if (!when.empty()) out += ", " + relative_time(when, now);
  return out;
}

std::string duration_text(const JobRun& r) {
  if (!r.duration_ms) return "-";
  return format_duration(Duration(static_cast<std::int64_t>(*r.duration_ms)));
}

Result<std::uint64_t> header_number(const http::Response& resp,
                                    std::string_view name) {
  std::string v = resp.header(name);
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
    return invalid("run logs: header " + std::string(name) +
                   ": expected a number, got \"" + v + "\"");
  }
  return n;
}

}  // namespace

bool run_state_ended(std::string_view state) {
  return state != "dispatched" && state != "running" && !state.empty();
}

bool run_ended(const JobRun& run) { return run_state_ended(run.state); }

Result<JobRun> run_from_json(std::string_view body) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, "run"));
  return run_from_value(j, "run");
}

Result<std::vector<JobRun>> runs_from_json(std::string_view body,
                                           std::string_view what) {
  const std::string w(what);
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, w));
  std::vector<JobRun> out;
  NW_RETURN_IF_ERROR(read_array(j, "runs", w, out, run_from_value));
  return out;
}

Result<std::vector<JobSummary>> job_list_from_json(std::string_view body) {
  const std::string what = "job list";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  std::vector<JobSummary> out;
  NW_RETURN_IF_ERROR(read_array(j, "jobs", what, out, summary_from_value));
  std::sort(
      out.begin(), out.end(),
      [](const JobSummary& a, const JobSummary& b) { return a.name < b.name; });
  return out;
}

Result<JobDetail> job_detail_from_json(std::string_view body) {
  const std::string what = "job";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  JobDetail d;
  api::ObjectReader rd(j, what);
  rd.required("name", d.name);
  rd.optional("enabled", d.enabled);
  rd.optional("state", d.state);
  rd.optional("version", d.version);
  rd.optional("next_run", d.next_run);
  rd.optional("missed", d.missed);
  NW_RETURN_IF_ERROR(rd.status());
  NW_RETURN_IF_ERROR(read_array(j, "runs", what, d.runs, run_from_value));
  auto spec = j.find("spec");
  if (spec != j.end() && spec->is_object()) {
    nlohmann::json named = *spec;
    if (!named.contains("name")) named["name"] = d.name;
    auto decoded = config::job_from_value(named);
    if (decoded.ok()) {
      d.fields = config::job_fields(decoded.value());
    } else {
      for (auto it = spec->begin(); it != spec->end(); ++it) {
        if (it.key() == "name") continue;
        d.fields.emplace_back(it.key(), api::to_body(it.value()));
      }
    }
  }
  return d;
}

Result<std::vector<MissedSlot>> missed_from_json(std::string_view body) {
  const std::string what = "missed runs";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  std::vector<MissedSlot> out;
  NW_RETURN_IF_ERROR(read_array(j, "missed", what, out, missed_from_value));
  return out;
}

std::string relative_time(std::string_view rfc3339, WallTime now) {
  if (rfc3339.empty()) return "-";
  auto t = parse_rfc3339(rfc3339);
  if (!t.ok()) return std::string(rfc3339);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.value() - now)
          .count();
  if (ms > -1000 && ms < 1000) return "now";
  return ms > 0 ? "in " + coarse_duration(ms) : coarse_duration(-ms) + " ago";
}

std::string render_job_list(const std::vector<JobSummary>& jobs, WallTime now) {
  Table t({"NAME", "STATE", "SCHEDULE", "NEXT RUN", "LAST RESULT", "RUNNING"});
  for (const JobSummary& j : jobs) {
    std::string schedule = or_dash(j.schedule);
    if (!j.timezone.empty() && j.timezone != "UTC") {
      schedule += " (" + j.timezone + ")";
    }
    t.add({j.name, or_dash(j.state), schedule, relative_time(j.next_run, now),
           last_result(j, now), std::to_string(j.running)});
  }
  return t.render();
}

std::string render_job_detail(const JobDetail& job, WallTime now) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"name", job.name},
      {"state", or_dash(job.state)},
      {"version", std::to_string(job.version)},
      {"next_run",
       job.next_run.empty()
           ? "-"
           : job.next_run + " (" + relative_time(job.next_run, now) + ")"},
      {"missed_slots", std::to_string(job.missed)},
  };
  fields.insert(fields.end(), job.fields.begin(), job.fields.end());
  std::string out;
  for (const auto& [k, v] : fields) out += k + ": " + v + "\n";
  out += "\n";
  if (job.runs.empty()) {
    out += "no runs yet\n";
  } else {
    out += render_runs(job.runs);
  }
  return out;
}

std::string render_runs(const std::vector<JobRun>& runs) {
  Table t({"RUN", "SLOT", "TRIGGER", "ATTEMPT", "AGENT", "STATE", "EXIT",
           "DURATION"});
  for (const JobRun& r : runs) {
    std::string id = std::to_string(r.run_id);
    if (r.shard_count > 1) {
      id += " (" + std::to_string(r.shard_index) + "/" +
            std::to_string(r.shard_count) + ")";
    }
    t.add({id, or_dash(r.slot), or_dash(r.trigger), std::to_string(r.attempt),
           or_dash(r.agent), or_dash(r.state),
           r.exit_code ? std::to_string(*r.exit_code) : "-", duration_text(r)});
  }
  return t.render();
}

std::string render_missed(const std::vector<MissedSlot>& missed) {
  Table t({"JOB", "SLOT", "REASON"});
  for (const MissedSlot& m : missed) {
    t.add({m.job, or_dash(m.slot), or_dash(m.reason)});
  }
  return t.render();
}

std::string describe_run(const JobRun& run) {
  std::string out = "run " + std::to_string(run.run_id);
  if (!run.job.empty()) out += " of job " + run.job;
  out += ": " + or_dash(run.state);
  if (!run.agent.empty()) out += " on " + run.agent;
  if (run.shard_count > 1) {
    out += " (shard " + std::to_string(run.shard_index) + "/" +
           std::to_string(run.shard_count) + ")";
  }
  return out;
}

std::string apply_body(const std::vector<config::JobSpec>& jobs, bool prune,
                       bool dry_run) {
  nlohmann::json list = nlohmann::json::array();
  for (const config::JobSpec& j : jobs) list.push_back(config::job_to_json(j));
  return api::to_body(
      nlohmann::json{{"jobs", list}, {"prune", prune}, {"dry_run", dry_run}});
}

Result<ApplyAnswer> apply_answer_from_json(std::string_view body) {
  const std::string what = "job apply";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  ApplyAnswer a;
  api::ObjectReader rd(j, what);
  rd.optional("applied", a.applied);
  NW_RETURN_IF_ERROR(rd.status());
  config::JobDiff& d = a.diff;
  NW_RETURN_IF_ERROR(read_array(j, "added", what, d.added, string_value));
  NW_RETURN_IF_ERROR(
      read_array(j, "changed", what, d.changed, job_change_from_value));
  NW_RETURN_IF_ERROR(read_array(j, "removed", what, d.removed, string_value));
  NW_RETURN_IF_ERROR(read_array(j, "kept", what, d.kept, string_value));
  NW_RETURN_IF_ERROR(
      read_array(j, "unchanged", what, d.unchanged, string_value));
  std::sort(d.added.begin(), d.added.end());
  std::sort(d.changed.begin(), d.changed.end(),
            [](const config::JobChange& x, const config::JobChange& y) {
              return x.name < y.name;
            });
  std::sort(d.removed.begin(), d.removed.end());
  std::sort(d.kept.begin(), d.kept.end());
  std::sort(d.unchanged.begin(), d.unchanged.end());
  return a;
}

std::string applied_summary(const config::JobDiff& d) {
  if (d.empty()) return "applied: nothing changed";
  return "applied: " + std::to_string(d.added.size()) + " added, " +
         std::to_string(d.changed.size()) + " changed, " +
         std::to_string(d.removed.size()) + " removed";
}

Status check_job_arg(std::string_view name) {
  Status s = config::check_job_name(name);
  if (s.ok()) return s;
  return usage("job name: " + s.error().message,
               "list the jobs with: nwctl job list");
}

Result<std::uint64_t> parse_run_id(std::string_view text) {
  std::string_view t = trim(text);
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size() || v == 0) {
    return usage(
        "run id: expected a positive whole number, got " + single_quote(text),
        "see the run ids with: nwctl job history JOB");
  }
  return v;
}

std::string job_path(std::string_view name) {
  return "/v1/jobs/" + http::percent_encode(name);
}

std::string run_path(std::uint64_t run_id) {
  return "/v1/runs/" + std::to_string(run_id);
}

std::string logs_path(std::uint64_t run_id, std::uint64_t offset,
                      std::uint64_t wait_ms) {
  std::string p = run_path(run_id) + "/logs?offset=" + std::to_string(offset);
  if (wait_ms > 0) p += "&wait_ms=" + std::to_string(wait_ms);
  return p;
}

Result<LogChunk> log_chunk_from_response(const http::Response& resp,
                                         std::uint64_t requested) {
  LogChunk c;
  c.offset = requested;
  if (!resp.header("NW-Offset").empty()) {
    NW_ASSIGN_OR_RETURN(c.offset, header_number(resp, "NW-Offset"));
  }
  const std::uint64_t end = c.offset + resp.body.size();
  c.next_offset = end;
  if (!resp.header("NW-Next-Offset").empty()) {
    NW_ASSIGN_OR_RETURN(c.next_offset, header_number(resp, "NW-Next-Offset"));
    if (c.next_offset < end) {
      return invalid(
          "run logs: NW-Next-Offset " + std::to_string(c.next_offset) +
          " is before the end of the answer (" + std::to_string(end) + ")");
    }
  }
  if (!resp.header("NW-Total-Bytes").empty()) {
    NW_ASSIGN_OR_RETURN(c.total, header_number(resp, "NW-Total-Bytes"));
  }
  c.state = resp.header("NW-Run-State");
  c.complete = resp.header("NW-Complete") == "true";
  return c;
}

std::uint64_t LogCursor::advance(const LogChunk& chunk) {
  std::uint64_t elided = chunk.offset > offset_ ? chunk.offset - offset_ : 0;
  offset_ = std::max(offset_, chunk.next_offset);
  return elided;
}

std::string elided_note(std::uint64_t bytes) {
  return "[... " + std::to_string(bytes) + " bytes elided ...]";
}

RunOutcome run_outcome(const JobRun& run) {
  RunOutcome o;
  std::string who = "run " + std::to_string(run.run_id);
  if (run.shard_count > 1) {
    who += " (shard " + std::to_string(run.shard_index) + "/" +
           std::to_string(run.shard_count) + ")";
  }
  if (!run.exit_code) {
    o.exit_code = 1;
    o.note = who + " ended " + or_dash(run.state) + " without an exit code";
    if (!run.reason.empty()) o.note += ": " + run.reason;
    return o;
  }
  std::int64_t code = *run.exit_code;
  o.exit_code = code < 0 || code > 255 ? 1 : static_cast<int>(code);
  // A run that did not succeed never exits 0, whatever code it recorded.
  if (o.exit_code == 0 && run.state != "succeeded") o.exit_code = 1;
  if (code != 0 || run.state != "succeeded") {
    o.note = who + " ended " + or_dash(run.state) + " with exit code " +
             std::to_string(code);
    if (!run.reason.empty()) o.note += " (" + run.reason + ")";
  }
  return o;
}

int first_failure(const std::vector<RunOutcome>& outcomes) {
  for (const RunOutcome& o : outcomes) {
    if (o.exit_code != 0) return o.exit_code;
  }
  return 0;
}

}  // namespace nw::ctl
