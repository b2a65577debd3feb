// The /v1/jobs, /v1/runs and /v1/locks routes (docs/api.md, "Jobs" and
// "Locks"). Writes and run-state reads are answered by the controller
// leader (forwarded there); output and kills go to the agent that ran the
// run.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/cluster/cluster.h"
#include "agent/controller/cluster_state.h"
#include "agent/controller/topic_record.h"
#include "agent/jobs/job_service_internal.h"
#include "common/api/json.h"
#include "common/config/job_codec.h"
#include "common/config/job_diff.h"
#include "common/http/forward.h"
#include "common/http/server.h"

namespace nw::jobs {
namespace {

using controller::RunRecord;
using nlohmann::json;
using State = controller::RunRecord::State;

constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr auto kForwardTimeout = std::chrono::seconds(40);
constexpr std::int64_t kMaxWaitMs = 30000;
constexpr std::size_t kMaxLogChunk = 1 << 20;

http::Response ok_json(const json& j, int status = 200) {
  return http::Response::json(api::to_body(j), status);
}

http::Response fail(const Error& e) { return http::Response::error(e); }

Error bad(std::string message, std::string hint = {}) {
  return Error(Code::invalid_argument, std::move(message), std::move(hint),
               "jobs");
}

json time_or_null(std::int64_t ms) {
  return ms == 0 ? json(nullptr) : json(format_ms(ms));
}

json run_json(const RunRecord& r) {
  const bool ended = r.finished();
  json j = {
      {"run_id", r.run_id},
      {"job", r.job},
      {"slot", format_ms(r.slot_ms)},
      {"slot_ms", r.slot_ms},
      {"attempt", r.attempt},
      {"trigger", r.attempt > 1 ? "retry"
                  : r.manual    ? "manual"
                                : "schedule"},
      {"agent", r.agent},
      {"shard_index", r.shard_index},
      {"shard_count", r.shard_count},
      {"state", std::string(to_string(r.state))},
      {"exit_code", nullptr},
      {"reason", r.reason},
      {"created", time_or_null(r.created_ms)},
      {"started", time_or_null(r.started_ms)},
      {"ended", ended ? time_or_null(r.ended_ms) : json(nullptr)},
      {"duration_ms", nullptr},
  };
  if (ended && r.state != State::lost &&
      !(r.state == State::cancelled && r.started_ms == 0)) {
    j["exit_code"] = r.exit_code;
  }
  if (ended && r.started_ms != 0 && r.ended_ms >= r.started_ms) {
    j["duration_ms"] = r.ended_ms - r.started_ms;
  }
  return j;
}

// The job name of /v1/jobs/{name}/...
Result<std::string> job_of(const http::Request& r) {
  std::string name = r.matches.size() > 1 ? r.matches[1] : std::string();
  if (Status s = config::check_job_name(name); !s.ok()) {
    return bad("job name \"" + name + "\": " + s.error().message);
  }
  return name;
}

Result<std::uint64_t> run_of(const http::Request& r) {
  const std::string text = r.matches.size() > 1 ? r.matches[1] : "";
  std::uint64_t id = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || id > (UINT64_MAX - 9) / 10) {
      return bad("run id \"" + text + "\" is not a number",
                 "run ids are in nwctl job history NAME");
    }
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (text.empty() || id == 0) {
    return bad("run id \"" + text + "\" is not a number",
               "run ids are in nwctl job history NAME");
  }
  return id;
}

Result<std::int64_t> int_param(const http::Request& r, std::string_view name,
                               std::int64_t dflt, std::int64_t lo,
                               std::int64_t hi) {
  if (!r.has_param(name)) return dflt;
  const std::string text = r.param(name);
  try {
    std::size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  return bad(std::string(name) + "=" + text + " is out of range",
             "give a whole number from " + std::to_string(lo) + " to " +
                 std::to_string(hi));
}

Error no_job(const std::string& name) {
  return Error(Code::not_found, "job \"" + name + "\": not found",
               "list the jobs with: nwctl job list", "jobs");
}

Error no_run(std::uint64_t id) {
  return Error(Code::not_found, "run " + std::to_string(id) + ": not found",
               "the cluster keeps the last 50 finished runs of each job; "
               "see nwctl job history NAME",
               "jobs");
}

std::string job_state(const controller::JobRecord& j, std::size_t running) {
  if (!j.enabled) return "paused";
  return running > 0 ? "running" : "idle";
}

}  // namespace

void JobService::add_routes(http::Server& server) {
  auto leader = [this](http::Handler h) {
    return [this, h = std::move(h)](const http::Request& r) {
      if (auto fwd = cluster_.forward_unless_leader(r)) return *fwd;
      return h(r);
    };
  };

  server.route(
      "POST", "/v1/jobs/apply", "/v1/jobs/apply",
      leader([this](const http::Request& r) {
        auto body = api::parse_object(r.body, "apply");
        if (!body.ok()) return fail(body.error());
        bool prune = false;
        bool dry_run = false;
        api::ObjectReader rd(*body, "apply");
        rd.optional("prune", prune);
        rd.optional("dry_run", dry_run);
        if (Status s = rd.status(); !s.ok()) return fail(s.error());
        auto jobs = body->find("jobs");
        if (jobs == body->end() || !jobs->is_array()) {
          return fail(bad("apply: \"jobs\" must be an array of job specs",
                          "send {\"jobs\": [{\"name\": \"x\", \"schedule\": "
                          "\"@every 1m\", \"shell\": \"true\"}]}"));
        }
        std::vector<config::JobSpec> wanted;
        std::set<std::string> names;
        for (const json& v : *jobs) {
          Result<config::JobSpec> spec = config::job_from_value(v);
          if (!spec.ok()) return fail(spec.error());
          if (!names.insert(spec->name).second) {
            return fail(
                bad("apply: job \"" + spec->name + "\" is given twice"));
          }
          Result<Schedule> sched =
              Schedule::parse(spec->schedule, spec->timezone);
          if (!sched.ok()) {
            Error e = sched.error();
            e.message = "job \"" + spec->name + "\": " + e.message;
            return fail(e);
          }
          wanted.push_back(std::move(*spec));
        }
        // The diff is against everything committed, also on a leader that
        // was elected a moment ago and has not applied it all yet.
        if (Status b = cluster_.read_barrier(kWriteTimeout); !b.ok()) {
          return fail(b.error());
        }
        // Copied under the state lock, decoded after it.
        std::vector<std::string> specs;
        cluster_.read([&](const controller::ClusterState& state) {
          for (const auto& [name, j] : state.jobs()) {
            specs.push_back(j.spec_json);
          }
        });
        std::vector<config::JobSpec> current;
        for (const std::string& text : specs) {
          Result<config::JobSpec> spec = config::decode_job(text);
          if (spec.ok()) current.push_back(std::move(*spec));
        }
        const config::JobDiff diff = config::diff_jobs(current, wanted, prune);
        if (!dry_run) {
          for (const config::JobSpec& s : wanted) {
            bool changed = std::find(diff.added.begin(), diff.added.end(),
                                     s.name) != diff.added.end();
            for (const config::JobChange& c : diff.changed) {
              changed = changed || c.name == s.name;
            }
            if (!changed) continue;
            controller::PutJob put{s.name, config::encode_job(s), now_ms()};
            if (Status st = cluster_.propose(put, kWriteTimeout); !st.ok()) {
              return fail(st.error());
            }
          }
          for (const std::string& name : diff.removed) {
            Status st =
                cluster_.propose(controller::DeleteJob{name}, kWriteTimeout);
            if (!st.ok() && st.error().code != Code::not_found) {
              return fail(st.error());
            }
          }
        }
        json changed = json::array();
        for (const config::JobChange& c : diff.changed) {
          json fields = json::array();
          for (const config::FieldChange& f : c.fields) {
            fields.push_back(
                {{"key", f.key}, {"old", f.old_value}, {"new", f.new_value}});
          }
          changed.push_back({{"name", c.name}, {"fields", fields}});
        }
        return ok_json({{"applied", !dry_run},
                        {"added", diff.added},
                        {"changed", changed},
                        {"removed", diff.removed},
                        {"kept", diff.kept},
                        {"unchanged", diff.unchanged}});
      }));

  server.route(
      "GET", "/v1/jobs", "/v1/jobs", leader([this](const http::Request&) {
        // Copied under the state lock; specs decoded and JSON built after.
        struct Row {
          controller::JobRecord job;
          std::size_t running = 0;
          std::optional<RunRecord> last;
        };
        std::vector<Row> rows;
        cluster_.read([&](const controller::ClusterState& state) {
          std::map<std::string, std::size_t> running;
          for (const RunRecord* r : state.unfinished_runs()) ++running[r->job];
          rows.reserve(state.jobs().size());
          for (const auto& [name, j] : state.jobs()) {
            Row row{j, running[name], std::nullopt};
            const std::vector<const RunRecord*> runs = state.runs_of(name);
            if (!runs.empty()) row.last = *runs.back();
            rows.push_back(std::move(row));
          }
        });
        json out = json::array();
        for (const Row& row : rows) {
          const controller::JobRecord& j = row.job;
          Result<config::JobSpec> spec = config::decode_job(j.spec_json);
          std::optional<std::int64_t> next = next_slot(j.name);
          out.push_back(
              {{"name", j.name},
               {"kind",
                spec.ok() ? std::string(config::to_string(spec->kind)) : ""},
               {"enabled", j.enabled},
               {"state", job_state(j, row.running)},
               {"schedule", spec.ok() ? spec->schedule : ""},
               {"timezone", spec.ok() ? spec->timezone : ""},
               {"version", j.version},
               {"next_run",
                next && j.enabled ? json(format_ms(*next)) : json(nullptr)},
               {"running", row.running},
               {"last_run", row.last ? run_json(*row.last) : json(nullptr)}});
        }
        return ok_json({{"jobs", out}});
      }));

  server.route("GET", "/v1/jobs/missed", "/v1/jobs/missed",
               leader([this](const http::Request& r) {
                 const std::string only = r.param("job");
                 json out = json::array();
                 bool found = only.empty();
                 cluster_.read([&](const controller::ClusterState& state) {
                   for (const auto& [name, j] : state.jobs()) {
                     if (!only.empty() && name != only) continue;
                     found = true;
                     const controller::MissedSlots* m = state.missed(name);
                     if (m == nullptr) continue;
                     for (const controller::MissedSlot& s : *m) {
                       out.push_back({{"job", name},
                                      {"slot", format_ms(s.slot_ms)},
                                      {"slot_ms", s.slot_ms},
                                      {"reason", s.reason}});
                     }
                   }
                 });
                 if (!found) return fail(no_job(only));
                 std::stable_sort(out.begin(), out.end(),
                                  [](const json& a, const json& b) {
                                    return a["slot_ms"].get<std::int64_t>() <
                                           b["slot_ms"].get<std::int64_t>();
                                  });
                 return ok_json({{"missed", out}});
               }));

  server.route(
      "GET", "/v1/jobs/([^/]+)", "/v1/jobs/{name}",
      leader([this](const http::Request& r) {
        auto name = job_of(r);
        if (!name.ok()) return fail(name.error());
        std::optional<json> out;
        cluster_.read([&](const controller::ClusterState& state) {
          const controller::JobRecord* j = state.job(*name);
          if (j == nullptr) return;
          std::size_t running = 0;
          json runs = json::array();
          const std::vector<const RunRecord*> all = state.runs_of(*name);
          for (auto it = all.rbegin(); it != all.rend(); ++it) {
            if (!(*it)->finished()) ++running;
            if (runs.size() < 10) runs.push_back(run_json(**it));
          }
          const controller::MissedSlots* m = state.missed(*name);
          std::optional<std::int64_t> next = next_slot(*name);
          out = json{{"name", *name},
                     {"enabled", j->enabled},
                     {"state", job_state(*j, running)},
                     {"version", j->version},
                     {"next_run", next && j->enabled ? json(format_ms(*next))
                                                     : json(nullptr)},
                     {"spec", json::parse(j->spec_json)},
                     {"runs", runs},
                     {"missed", m == nullptr ? 0 : m->size()}};
        });
        if (!out) return fail(no_job(*name));
        return ok_json(*out);
      }));

  server.route("POST", "/v1/jobs/([^/]+)/run", "/v1/jobs/{name}/run",
               leader([this](const http::Request& r) {
                 auto name = job_of(r);
                 if (!name.ok()) return fail(name.error());
                 auto runs = run_now(*name);
                 if (!runs.ok()) return fail(runs.error());
                 json out = json::array();
                 for (const RunRecord& run : *runs)
                   out.push_back(run_json(run));
                 return ok_json({{"runs", out}}, 201);
               }));

  for (const bool enable : {false, true}) {
    const std::string verb = enable ? "resume" : "pause";
    server.route("POST", "/v1/jobs/([^/]+)/" + verb, "/v1/jobs/{name}/" + verb,
                 leader([this, enable](const http::Request& r) {
                   auto name = job_of(r);
                   if (!name.ok()) return fail(name.error());
                   Status s = cluster_.propose(
                       controller::SetJobEnabled{*name, enable}, kWriteTimeout);
                   if (!s.ok()) return fail(s.error());
                   return ok_json({{"name", *name}, {"enabled", enable}});
                 }));
  }

  server.route("DELETE", "/v1/jobs/([^/]+)", "/v1/jobs/{name}",
               leader([this](const http::Request& r) {
                 auto name = job_of(r);
                 if (!name.ok()) return fail(name.error());
                 Status s = cluster_.propose(controller::DeleteJob{*name},
                                             kWriteTimeout);
                 if (!s.ok()) return fail(s.error());
                 return http::Response::text("", "", 204);
               }));

  server.route("GET", "/v1/jobs/([^/]+)/history", "/v1/jobs/{name}/history",
               leader([this](const http::Request& r) {
                 auto name = job_of(r);
                 if (!name.ok()) return fail(name.error());
                 auto limit = int_param(r, "limit", 20, 1, 1000);
                 if (!limit.ok()) return fail(limit.error());
                 json runs = json::array();
                 bool found = false;
                 cluster_.read([&](const controller::ClusterState& state) {
                   found = state.job(*name) != nullptr;
                   const std::vector<const RunRecord*> all =
                       state.runs_of(*name);
                   found = found || !all.empty();
                   for (auto it = all.rbegin();
                        it != all.rend() &&
                        runs.size() < static_cast<std::size_t>(*limit);
                        ++it) {
                     runs.push_back(run_json(**it));
                   }
                 });
                 if (!found) return fail(no_job(*name));
                 return ok_json({{"runs", runs}});
               }));

  server.route("GET", "/v1/runs/([0-9]+)", "/v1/runs/{id}",
               leader([this](const http::Request& r) {
                 auto id = run_of(r);
                 if (!id.ok()) return fail(id.error());
                 std::optional<RunRecord> run;
                 cluster_.read([&](const controller::ClusterState& state) {
                   if (const RunRecord* x = state.run(*id)) run = *x;
                 });
                 if (!run) return fail(no_run(*id));
                 return ok_json(run_json(*run));
               }));

  server.route("GET", "/v1/runs/([0-9]+)/logs", "/v1/runs/{id}/logs",
               [this](const http::Request& r) { return logs(r); });
  server.route("POST", "/v1/runs/([0-9]+)/kill", "/v1/runs/{id}/kill",
               [this](const http::Request& r) { return kill(r); });

  add_lock_routes(server);
}

// The run as the cluster has it, with its agent's API address; a read
// barrier first when this agent does not know it yet (it may be new).
Result<std::pair<RunRecord, std::string>> JobService::locate(std::uint64_t id) {
  for (int round = 0; round < 2; ++round) {
    std::optional<std::pair<RunRecord, std::string>> out;
    cluster_.read([&](const controller::ClusterState& state) {
      const RunRecord* r = state.run(id);
      if (r == nullptr) return;
      const controller::NodeRecord* n = state.node(r->agent);
      out.emplace(*r, n != nullptr ? n->api_addr : std::string());
    });
    if (out) return *out;
    if (round == 0) NW_RETURN_IF_ERROR(cluster_.read_barrier(kWriteTimeout));
  }
  return no_run(id);
}

http::Response JobService::logs(const http::Request& r) {
  auto id = run_of(r);
  if (!id.ok()) return fail(id.error());
  auto offset = int_param(r, "offset", 0, 0, INT64_MAX);
  if (!offset.ok()) return fail(offset.error());
  auto wait = int_param(r, "wait_ms", 0, 0, kMaxWaitMs);
  if (!wait.ok()) return fail(wait.error());
  auto where = locate(*id);
  if (!where.ok()) return fail(where.error());
  const RunRecord& run = where->first;
  if (run.agent != options_.node_id) {
    if (http::forwarded(r) || where->second.empty()) {
      return fail(Error(Code::unavailable,
                        "run " + std::to_string(*id) + " ran on agent " +
                            run.agent + ", which cannot be reached",
                        "check it with: nwctl cluster status", "jobs"));
    }
    return http::forward(r, where->second, kForwardTimeout);
  }
  const auto from = static_cast<std::uint64_t>(*offset);
  OutputSlice slice;
  bool complete = false;
  std::string state_name(to_string(run.state));
  if (std::shared_ptr<LiveOutput> live = live_output(*id)) {
    slice = live->read(from, kMaxLogChunk,
                       mono_now() + std::chrono::milliseconds(*wait));
    complete = live->finished() && slice.next_offset >= slice.total_bytes;
    if (complete) state_name = "finishing";
  } else {
    auto stored = options_.store->get(*id);
    if (!stored.ok()) return fail(stored.error());
    if (!*stored) {
      if (!run.finished() && run.state == State::dispatched) {
        // Not started yet: nothing to show, more to come.
        slice.offset = slice.next_offset = from;
      } else {
        return fail(
            Error(Code::not_found,
                  "run " + std::to_string(*id) + " has no output on " +
                      options_.node_id,
                  run.state == State::lost || run.started_ms == 0
                      ? "the run never started, or its agent lost it"
                      : "an agent keeps the output of its last 50 runs per job",
                  "jobs"));
      }
    } else {
      slice = slice_output(**stored, from, kMaxLogChunk);
      complete = slice.next_offset >= slice.total_bytes;
    }
  }
  // The run's state after the read: a run that ended meanwhile says so.
  if (auto again = locate(*id); again.ok()) {
    state_name = std::string(to_string(again->first.state));
    if (!again->first.finished()) complete = false;
  }
  http::Response resp =
      http::Response::text(std::move(slice.data), "application/octet-stream");
  resp.headers.emplace_back("NW-Offset", std::to_string(slice.offset));
  resp.headers.emplace_back("NW-Next-Offset",
                            std::to_string(slice.next_offset));
  resp.headers.emplace_back("NW-Total-Bytes",
                            std::to_string(slice.total_bytes));
  resp.headers.emplace_back("NW-Run-State", state_name);
  resp.headers.emplace_back("NW-Complete", complete ? "true" : "false");
  return resp;
}

http::Response JobService::kill(const http::Request& r) {
  auto id = run_of(r);
  if (!id.ok()) return fail(id.error());
  std::string why = "killed by nwctl job kill";
  if (!r.body.empty()) {
    auto body = api::parse_object(r.body, "kill");
    if (!body.ok()) return fail(body.error());
    api::ObjectReader rd(*body, "kill");
    rd.optional("reason", why);
    if (Status s = rd.status(); !s.ok()) return fail(s.error());
    if (why.empty() || why.size() > 200) why = "killed by nwctl job kill";
  }
  if (Status b = cluster_.read_barrier(kWriteTimeout); !b.ok()) {
    return fail(b.error());
  }
  auto where = locate(*id);
  if (!where.ok()) return fail(where.error());
  const RunRecord& run = where->first;
  if (run.finished()) {
    return fail(Error(Code::failed_precondition,
                      "run " + std::to_string(*id) + " already ended as " +
                          std::string(to_string(run.state)),
                      {}, "jobs"));
  }
  if (run.agent != options_.node_id) {
    if (http::forwarded(r) || where->second.empty()) {
      return fail(Error(Code::unavailable,
                        "run " + std::to_string(*id) + " runs on agent " +
                            run.agent + ", which cannot be reached",
                        "if the agent is gone, the run is marked lost when "
                        "its lease ends",
                        "jobs"));
    }
    return http::forward(r, where->second, kForwardTimeout);
  }
  if (Status s = kill_local(*id, why); !s.ok()) {
    return fail(Error(
        Code::unavailable,
        "run " + std::to_string(*id) + " is not known to its agent yet; retry",
        {}, "jobs"));
  }
  return ok_json(run_json(run), 202);
}

void JobService::add_lock_routes(http::Server& server) {
  auto leader = [this](http::Handler h) {
    return [this, h = std::move(h)](const http::Request& r) {
      if (auto fwd = cluster_.forward_unless_leader(r)) return *fwd;
      return h(r);
    };
  };
  auto lock_json = [](const controller::LockRecord& l, std::int64_t now) {
    return json{
        {"name", l.name},
        {"holder", l.holder},
        {"token", l.token},
        {"expires_in_ms", std::max<std::int64_t>(0, l.deadline_ms - now)},
        {"ttl_ms", std::max<std::int64_t>(0, l.deadline_ms - now)}};
  };
  auto name_of = [](const http::Request& r) -> Result<std::string> {
    std::string name = r.matches.size() > 1 ? r.matches[1] : std::string();
    if (!controller::valid_name(name)) {
      return bad("lock name \"" + name + "\" is not valid",
                 "use 1-200 of [A-Za-z0-9._-]");
    }
    return name;
  };
  auto current =
      [this](const std::string& name) -> std::optional<controller::LockRecord> {
    std::optional<controller::LockRecord> out;
    cluster_.read([&](const controller::ClusterState& state) {
      if (const controller::LockRecord* l = state.lock(name)) out = *l;
    });
    return out;
  };

  server.route(
      "POST", "/v1/locks/([^/]+)/acquire", "/v1/locks/{name}/acquire",
      leader([this, name_of, current, lock_json](const http::Request& r) {
        auto name = name_of(r);
        if (!name.ok()) return fail(name.error());
        auto body = api::parse_object(r.body, "acquire");
        if (!body.ok()) return fail(body.error());
        std::string holder;
        std::int64_t ttl_ms = 0;
        std::int64_t wait_ms = 0;
        api::ObjectReader rd(*body, "acquire");
        rd.required("holder", holder);
        rd.required("ttl_ms", ttl_ms);
        rd.optional("wait_ms", wait_ms);
        if (Status s = rd.status(); !s.ok()) return fail(s.error());
        wait_ms = std::clamp<std::int64_t>(wait_ms, 0, kMaxWaitMs);
        const MonoTime deadline =
            mono_now() + std::chrono::milliseconds(wait_ms);
        std::uint64_t seen = 0;
        while (true) {
          const std::int64_t now = now_ms();
          Status s = cluster_.propose(
              controller::AcquireLock{*name, holder, ttl_ms, now},
              kWriteTimeout);
          if (s.ok()) {
            auto l = current(*name);
            if (!l)
              return fail(
                  Error(Code::unavailable, "lock vanished; retry", {}, "jobs"));
            return ok_json(lock_json(*l, now_ms()));
          }
          if (s.error().code != Code::conflict) return fail(s.error());
          if (mono_now() >= deadline) {
            // Say who holds it and for how long, in the leader's terms.
            Error e = s.error();
            if (auto l = current(*name)) {
              const std::int64_t left =
                  std::max<std::int64_t>(0, l->deadline_ms - now_ms());
              e.message =
                  "lock \"" + *name + "\" is held by \"" + l->holder +
                  "\" (token " + std::to_string(l->token) + ") for up to " +
                  format_duration(std::chrono::milliseconds(left)) + " more";
              e.hint = "wait for it (nwctl lock --wait), or retry later";
            }
            return fail(e);
          }
          // Held: wait for a change (a release) or its deadline.
          std::int64_t until_free = 100;
          if (auto l = current(*name)) {
            until_free = std::max<std::int64_t>(1, l->deadline_ms - now_ms());
          }
          const auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                    mono_now());
          seen = cluster_.wait_for_change(
              seen, std::min<Duration>(
                        left, std::chrono::milliseconds(
                                  std::min<std::int64_t>(until_free, 1000))));
        }
      }));

  server.route(
      "POST", "/v1/locks/([^/]+)/renew", "/v1/locks/{name}/renew",
      leader([this, name_of, current, lock_json](const http::Request& r) {
        auto name = name_of(r);
        if (!name.ok()) return fail(name.error());
        auto body = api::parse_object(r.body, "renew");
        if (!body.ok()) return fail(body.error());
        std::string holder;
        std::uint64_t token = 0;
        std::int64_t ttl_ms = 0;
        api::ObjectReader rd(*body, "renew");
        rd.required("holder", holder);
        rd.required("token", token);
        rd.required("ttl_ms", ttl_ms);
        if (Status s = rd.status(); !s.ok()) return fail(s.error());
        Status s = cluster_.propose(
            controller::RenewLock{*name, holder, token, now_ms(), ttl_ms},
            kWriteTimeout);
        if (!s.ok()) return fail(s.error());
        auto l = current(*name);
        if (!l) return fail(Error(Code::not_found, "lock gone", {}, "jobs"));
        return ok_json(lock_json(*l, now_ms()));
      }));

  server.route("POST", "/v1/locks/([^/]+)/release", "/v1/locks/{name}/release",
               leader([this, name_of](const http::Request& r) {
                 auto name = name_of(r);
                 if (!name.ok()) return fail(name.error());
                 auto body = api::parse_object(r.body, "release");
                 if (!body.ok()) return fail(body.error());
                 std::string holder;
                 std::uint64_t token = 0;
                 api::ObjectReader rd(*body, "release");
                 rd.required("holder", holder);
                 rd.required("token", token);
                 if (Status s = rd.status(); !s.ok()) return fail(s.error());
                 Status s = cluster_.propose(
                     controller::ReleaseLock{*name, holder, token},
                     kWriteTimeout);
                 if (!s.ok()) return fail(s.error());
                 return http::Response::text("", "", 204);
               }));

  server.route("GET", "/v1/locks", "/v1/locks",
               leader([this, lock_json](const http::Request&) {
                 json out = json::array();
                 const std::int64_t now = now_ms();
                 cluster_.read([&](const controller::ClusterState& state) {
                   for (const auto& [name, l] : state.locks()) {
                     if (l.deadline_ms > now) out.push_back(lock_json(l, now));
                   }
                 });
                 return ok_json({{"locks", out}});
               }));
}

}  // namespace nw::jobs
