// JobService's scheduler: active on the controller leader only. Every
// decision is committed (CreateRun, RecordMissed, UpdateRun lost) before it
// has any effect, and a new leader rebuilds its plans from the committed
// state (see job_service.h).
#include <algorithm>
#include <cmath>
#include <map>

#include "agent/cluster/cluster.h"
#include "agent/controller/cluster_state.h"
#include "agent/jobs/job_service_internal.h"
#include "agent/jobs/run_policy.h"
#include "common/config/job_codec.h"
#include "common/http/forward.h"

namespace nw::jobs {
namespace {

using controller::RunRecord;
using State = controller::RunRecord::State;

constexpr auto kIdleWait = std::chrono::milliseconds(100);
constexpr auto kBarrierTimeout = std::chrono::seconds(5);
constexpr auto kKillTimeout = std::chrono::seconds(5);
// Slots handled at once for one job after an outage (`run-all` runs at
// most this many; the rest are recorded missed).
constexpr std::size_t kMaxCatchUp = 1000;

WallTime wall_of(std::int64_t ms) {
  return WallTime(std::chrono::milliseconds(ms));
}

std::string deadline_reason(const config::JobSpec& spec) {
  return "not started within starting_deadline (" +
         format_duration(spec.starting_deadline) +
         "): the cluster had no leader, or the leader was behind";
}

}  // namespace

void JobService::scheduler_loop() {
  std::uint64_t seen = 0;
  bool need_rebuild = true;
  while (!stopping_) {
    const bool leader = cluster_.is_leader();
    if (leader && !leading_) {
      // Everything committed before this term is applied first, so the
      // plans start from the last slots the old leader committed.
      if (cluster_.read_barrier(kBarrierTimeout).ok()) {
        std::lock_guard lock(sched_mu_);
        leading_ = true;
        need_rebuild = true;
        jobs_log().info("scheduler active (this agent leads the cluster)");
      }
    } else if (!leader && leading_) {
      std::lock_guard lock(sched_mu_);
      leading_ = false;
      plans_.clear();
      due_.clear();
      expiring_.clear();
      retries_.clear();
      retry_pending_.clear();
      jobs_log().info("scheduler idle (another agent leads)");
    }
    Duration wait = kIdleWait;
    if (leading_) {
      const std::int64_t now = now_ms();
      if (need_rebuild) {
        cluster_.read([&](const controller::ClusterState& state) {
          rebuild_plans(state, now);
        });
        need_rebuild = false;
      }
      scheduler_step(now);
      std::lock_guard lock(sched_mu_);
      std::int64_t next = now + to_ms(kIdleWait);
      if (!due_.empty()) next = std::min(next, due_.begin()->first);
      if (!retries_.empty()) next = std::min(next, retries_.begin()->first);
      wait =
          std::chrono::milliseconds(std::max<std::int64_t>(0, next - now_ms()));
    }
    if (wait > Duration::zero()) seen = cluster_.wait_for_change(seen, wait);
  }
}

void JobService::rebuild_plans(const controller::ClusterState& state,
                               std::int64_t now_ms) {
  std::lock_guard lock(sched_mu_);
  plans_.clear();
  due_.clear();
  expiring_.clear();
  retries_.clear();
  retry_pending_.clear();
  jobs_version_seen_ = ~std::uint64_t{0};
  sync_plans(state, now_ms);
  finished_seen_ = state.finished_seq();
  queue_retries(state, {}, true);
}

void JobService::queue_retries(const controller::ClusterState& state,
                               const std::vector<std::uint64_t>& ids,
                               bool rescan) {
  auto consider = [&](const RunRecord& r, const config::RetryPolicy& rp) {
    if (!retryable(r.state) || r.attempt > static_cast<std::uint32_t>(rp.max)) {
      return;
    }
    if (!retry_pending_.insert(r.run_id).second) return;
    retries_.emplace(r.ended_ms + retry_delay_ms(rp, r.attempt, r.run_id),
                     r.run_id);
  };
  if (!rescan) {
    for (std::uint64_t id : ids) {
      const RunRecord* r = state.run(id);
      if (r == nullptr) continue;
      auto p = plans_.find(r->job);
      if (p != plans_.end()) consider(*r, p->second->spec.retries);
    }
    return;
  }
  // Failed last attempts whose retry was not created yet (the old leader
  // died first): the due time is a function of the run, so it is the same.
  for (const auto& [name, p] : plans_) {
    if (p->spec.retries.max == 0) continue;
    std::map<std::pair<std::int64_t, std::uint32_t>, const RunRecord*> last;
    for (const RunRecord* r : state.runs_of(name)) {
      auto& slot = last[{r->slot_ms, r->shard_index}];
      if (slot == nullptr || slot->attempt < r->attempt) slot = r;
    }
    for (const auto& [key, r] : last) consider(*r, p->spec.retries);
  }
}

// REQUIRES: sched_mu_ held.
void JobService::sync_plans(const controller::ClusterState& state,
                            std::int64_t now_ms) {
  if (state.jobs_version() == jobs_version_seen_) return;
  jobs_version_seen_ = state.jobs_version();
  for (auto it = plans_.begin(); it != plans_.end();) {
    if (state.job(it->first) == nullptr) {
      due_.erase({it->second->next_ms, it->first});
      it = plans_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, j] : state.jobs()) {
    auto it = plans_.find(name);
    if (it != plans_.end() && it->second->version == j.version &&
        it->second->enabled == j.enabled && !it->second->resync) {
      continue;
    }
    const bool is_new = it == plans_.end();
    if (is_new) {
      it = plans_.emplace(name, std::make_unique<Plan>()).first;
      it->second->name = name;
      // Slots are owed from the spec's last change (committed, so every
      // leader agrees) or after the last slot handled, whichever is later.
      it->second->cursor_ms = std::max(j.last_slot_ms, j.changed_ms);
    }
    Plan& p = *it->second;
    const bool spec_changed = p.version != j.version;
    p.version = j.version;
    p.enabled = j.enabled;
    if (spec_changed) {
      Result<config::JobSpec> spec = config::decode_job(j.spec_json);
      if (!spec.ok()) {
        jobs_log().error("job spec does not decode; not scheduled",
                         {{"job", name}, {"error", spec.error().message}});
        p.schedule.reset();
      } else {
        p.spec = std::move(*spec);
        Result<Schedule> sched =
            Schedule::parse(p.spec.schedule, p.spec.timezone);
        if (sched.ok()) {
          p.schedule = sched->spread_by(name);
        } else {
          p.schedule.reset();
          jobs_log().error("job schedule does not parse; not scheduled",
                           {{"job", name}, {"error", sched.error().message}});
        }
      }
      // A changed spec owes no slot before its change.
      p.cursor_ms = std::max(p.cursor_ms, j.changed_ms);
    }
    if (p.resync && !p.busy) {
      // After a failed chain: what was committed, nothing more.
      p.cursor_ms = std::max({j.last_slot_ms, j.changed_ms, p.chain_from});
      p.resync = false;
    }
    p.cursor_ms = std::max(p.cursor_ms, j.last_slot_ms);
    if (!p.busy) plan_job(p, now_ms);
  }
}

// REQUIRES: sched_mu_ held; p not busy.
void JobService::plan_job(Plan& p, std::int64_t) {
  due_.erase({p.next_ms, p.name});
  p.next_ms = 0;
  if (!p.schedule) return;
  std::optional<WallTime> next = p.schedule->next_after(wall_of(p.cursor_ms));
  if (!next) return;
  p.next_ms = ms_of(*next);
  due_.emplace(p.next_ms, p.name);
}

void JobService::scheduler_step(std::int64_t now) {
  // Under the cluster's read lock only copies are taken and cheap checks
  // made; proposals go out after.
  std::vector<RunRecord> expired;
  if (mono_now() >= offsets_at_) {
    // Leases are stamped by the runners' clocks: they are read through
    // each agent's measured offset, so skew does not lose runs early.
    clock_offsets_.clear();
    for (const cluster::MemberView& m : cluster_.view(true).members) {
      if (m.clock_offset_ms) clock_offsets_[m.id] = *m.clock_offset_ms;
    }
    offsets_at_ = mono_now() + std::chrono::seconds(1);
  }
  // Leases are checked a few times a second, not at every state change:
  // the scan costs the number of unfinished runs.
  const bool check_leases = mono_now() >= leases_at_;
  if (check_leases) leases_at_ = mono_now() + std::chrono::milliseconds(200);
  cluster_.read([&](const controller::ClusterState& state) {
    std::lock_guard lock(sched_mu_);
    sync_plans(state, now);
    for (const RunRecord* r : check_leases ? state.unfinished_runs()
                                           : std::vector<const RunRecord*>{}) {
      auto off = clock_offsets_.find(r->agent);
      const std::int64_t skew = off == clock_offsets_.end() ? 0 : off->second;
      if (r->lease_until_ms - skew < now && expiring_.count(r->run_id) == 0) {
        expired.push_back(*r);
      }
    }
    // Runs that ended since the last step: a retry when the policy
    // allows one.
    if (state.finished_seq() != finished_seen_) {
      std::vector<std::uint64_t> ids;
      const bool known = state.finished_after(finished_seen_, &ids);
      queue_retries(state, ids, !known);
      finished_seen_ = state.finished_seq();
    }
  });

  // Leases that passed: the run is lost (a renewal committed first wins:
  // UpdateRun lost is refused then).
  for (const RunRecord& r : expired) {
    {
      std::lock_guard lock(sched_mu_);
      expiring_.insert(r.run_id);
    }
    controller::UpdateRun u;
    u.run_id = r.run_id;
    u.fencing_token = r.fencing_token;
    u.state = State::lost;
    u.reason = "agent " + r.agent + " stopped renewing the run's lease";
    // Not before the lease's end as stamped (the rule of update_run).
    u.ended_ms = std::max(now, r.lease_until_ms);
    const std::uint64_t id = r.run_id;
    propose_async(u, [this, id](Status s) {
      if (s.ok()) metrics_->runs_lost.inc();
      std::lock_guard lock(sched_mu_);
      expiring_.erase(id);
    });
  }

  std::vector<std::string> due;
  bool retry_due = false;
  {
    std::lock_guard lock(sched_mu_);
    for (auto it = due_.begin(); it != due_.end() && it->first <= now; ++it) {
      due.push_back(it->second);
    }
    retry_due = !retries_.empty() && retries_.begin()->first <= now;
  }
  if (due.empty() && !retry_due) return;
  const Health healthy = health();
  if (retry_due) run_retries(now, healthy);
  for (const std::string& name : due) run_due(name, now, healthy);
}

Result<std::vector<std::string>> JobService::pick_agents(
    const controller::ClusterState& state, const config::JobSpec& spec,
    std::int64_t slot_ms, const std::string& avoid, const Health& healthy) {
  const auto busy = state.unfinished_per_agent();
  struct Candidate {
    bool healthy;
    bool avoided;
    std::size_t busy;
    std::uint64_t spread;
    std::string id;
  };
  std::vector<Candidate> fits;
  for (const auto& [id, n] : state.nodes()) {
    if (n.state == controller::NodeRecord::State::left) continue;
    bool match = true;
    for (const auto& [k, v] : spec.placement.labels) {
      auto l = n.labels.find(k);
      if (l == n.labels.end() || l->second != v) match = false;
    }
    if (!match) continue;
    auto h = healthy.find(id);
    // Rotates ties so equal agents share the work.
    std::uint64_t spread =
        std::hash<std::string>{}(id) ^
        (static_cast<std::uint64_t>(slot_ms) * 0x9E3779B97F4A7C15ULL);
    auto b = busy.find(id);
    fits.push_back(Candidate{h != healthy.end() && h->second, id == avoid,
                             b == busy.end() ? 0 : b->second, spread, id});
  }
  std::sort(fits.begin(), fits.end(),
            [](const Candidate& a, const Candidate& b) {
              if (a.healthy != b.healthy) return a.healthy;
              if (a.avoided != b.avoided) return !a.avoided;
              if (a.busy != b.busy) return a.busy < b.busy;
              return a.spread < b.spread;
            });
  std::vector<std::string> out;
  if (spec.placement.all) {
    for (const Candidate& c : fits) {
      if (c.healthy) out.push_back(c.id);
    }
    if (out.empty()) {
      return Error(Code::unavailable,
                   "placement: no healthy agent carries the job's labels", {},
                   "jobs");
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  const auto want = static_cast<std::size_t>(spec.placement.count);
  std::size_t healthy_fits = 0;
  for (const Candidate& c : fits) healthy_fits += c.healthy ? 1 : 0;
  if (healthy_fits < want) {
    return Error(Code::unavailable,
                 "placement: " + std::to_string(want) + " agent" +
                     (want == 1 ? "" : "s") + " needed, " +
                     std::to_string(healthy_fits) +
                     " healthy agent(s) carry the job's labels",
                 {}, "jobs");
  }
  for (std::size_t i = 0; i < want; ++i) out.push_back(fits[i].id);
  return out;
}

void JobService::kill_runs_of(const controller::ClusterState& state,
                              const std::string& job) {
  for (const RunRecord* r : state.unfinished_runs()) {
    if (r->job != job) continue;
    const std::uint64_t id = r->run_id;
    if (r->agent == options_.node_id) {
      (void)kill_local(id, "replaced by a newer run (concurrency = replace)");
      continue;
    }
    const controller::NodeRecord* n = state.node(r->agent);
    if (n == nullptr || n->api_addr.empty()) continue;
    std::string addr = n->api_addr;
    // Off the scheduler thread: an unreachable agent must not stall it.
    post([addr, id] {
      http::Request req;
      req.method = "POST";
      req.path = "/v1/runs/" + std::to_string(id) + "/kill";
      req.body =
          R"j({"reason": "replaced by a newer run (concurrency = replace)"})j";
      http::Response resp = http::forward(req, addr, kKillTimeout);
      if (resp.status >= 300) {
        jobs_log().warn("could not stop a replaced run",
                        {{"run", id}, {"error", resp.body}});
      }
    });
  }
}

void JobService::run_due(const std::string& name, std::int64_t now,
                         const Health& healthy) {
  std::vector<controller::Command> chain;
  std::int64_t last_slot = 0;
  std::string job_name = name;
  cluster_.read([&](const controller::ClusterState& state) {
    std::lock_guard lock(sched_mu_);
    auto it = plans_.find(name);
    if (it == plans_.end()) return;
    Plan& p = *it->second;
    if (p.busy || p.next_ms == 0 || p.next_ms > now || !p.schedule) return;
    std::vector<WallTime> slots = p.schedule->slots_between(
        wall_of(p.cursor_ms), wall_of(now), kMaxCatchUp + 1);
    if (slots.empty()) {
      plan_job(p, now);
      return;
    }
    if (slots.size() > kMaxCatchUp) {
      // More than can be handled at once: the oldest are recorded missed
      // one by one in the next rounds; here start with the first batch.
      slots.resize(kMaxCatchUp);
    }
    const config::JobSpec& spec = p.spec;
    const std::int64_t deadline = to_ms(spec.starting_deadline);
    std::size_t unfinished = state.unfinished_of_job(name);
    // The newest late slot, for run-once.
    std::int64_t newest_late = 0;
    bool any_on_time = false;
    for (WallTime w : slots) {
      const std::int64_t s = ms_of(w);
      if (now - s > deadline) {
        newest_late = s;
      } else {
        any_on_time = true;
      }
    }
    bool replaced = false;
    for (WallTime w : slots) {
      const std::int64_t s = ms_of(w);
      auto missed = [&](std::string reason) {
        chain.push_back(controller::RecordMissed{name, s, std::move(reason)});
      };
      if (!p.enabled) {
        missed("job paused");
        continue;
      }
      if (now - s > deadline) {
        const bool runs = spec.missed == config::MissedPolicy::run_all ||
                          (spec.missed == config::MissedPolicy::run_once &&
                           s == newest_late && !any_on_time);
        if (!runs) {
          missed(spec.missed == config::MissedPolicy::run_once
                     ? deadline_reason(spec) +
                           "; missed = run-once runs only the newest"
                     : deadline_reason(spec));
          continue;
        }
      }
      if (unfinished > 0) {
        if (spec.concurrency == config::ConcurrencyPolicy::forbid) {
          missed("previous run still running (concurrency = forbid)");
          continue;
        }
        if (spec.concurrency == config::ConcurrencyPolicy::replace &&
            !replaced) {
          kill_runs_of(state, name);
          replaced = true;
        }
      }
      Result<std::vector<std::string>> agents =
          pick_agents(state, spec, s, "", healthy);
      if (!agents.ok()) {
        missed(agents.error().message);
        continue;
      }
      const auto count = static_cast<std::uint32_t>(agents->size());
      for (std::uint32_t i = 0; i < count; ++i) {
        controller::CreateRun c;
        c.job = name;
        c.slot_ms = s;
        c.attempt = 1;
        c.agent = (*agents)[i];
        c.shard_index = i;
        c.shard_count = count;
        c.now_ms = now;
        c.lease_until_ms = now + to_ms(options_.lease);
        chain.push_back(std::move(c));
      }
      ++unfinished;
    }
    last_slot = ms_of(slots.back());
    p.chain_from = p.cursor_ms;
    p.cursor_ms = last_slot;
    p.busy = true;
    due_.erase({p.next_ms, name});
  });
  if (chain.empty()) return;
  // One job's commands go in order (last_slot_ms only moves forward);
  // different jobs' chains run side by side on the task pool.
  auto c = std::make_shared<Chain>();
  c->job = job_name;
  c->cmds = std::move(chain);
  chain_step(std::move(c), ok_status());
  (void)last_slot;
}

void JobService::chain_step(std::shared_ptr<Chain> c, Status s) {
  if (c->next > 0) {
    const controller::Command& prev = c->cmds[c->next - 1];
    if (!s.ok()) {
      jobs_log().warn(
          "scheduling a slot failed; resuming from the committed state",
          {{"job", c->job}, {"error", s.error().message}});
    } else if (std::holds_alternative<controller::CreateRun>(prev)) {
      metrics_->slots_dispatched.inc();
    } else {
      metrics_->slots_missed.inc();
    }
    if (!s.ok() || c->next == c->cmds.size()) {
      std::lock_guard lock(sched_mu_);
      auto it = plans_.find(c->job);
      if (it == plans_.end()) return;
      Plan& p = *it->second;
      p.busy = false;
      if (!s.ok()) {
        // The next sync takes the cursor from the committed state (the
        // cluster's lock is not taken here: everywhere else it is taken
        // before sched_mu_).
        p.resync = true;
        jobs_version_seen_ = ~std::uint64_t{0};
        return;
      }
      plan_job(p, 0);
      return;
    }
  }
  controller::Command cmd = c->cmds[c->next++];
  propose_async(std::move(cmd), [this, c = std::move(c)](Status st) {
    chain_step(c, std::move(st));
  });
}

void JobService::run_retries(std::int64_t now, const Health& healthy) {
  std::vector<std::uint64_t> due;
  {
    std::lock_guard lock(sched_mu_);
    while (!retries_.empty() && retries_.begin()->first <= now) {
      due.push_back(retries_.begin()->second);
      retries_.erase(retries_.begin());
    }
  }
  for (std::uint64_t failed_id : due) {
    std::optional<controller::CreateRun> create;
    bool wait = false;
    cluster_.read([&](const controller::ClusterState& state) {
      const RunRecord* r = state.run(failed_id);
      const controller::JobRecord* j = r ? state.job(r->job) : nullptr;
      if (r == nullptr || j == nullptr || !j->enabled) return;
      std::lock_guard lock(sched_mu_);
      auto p = plans_.find(r->job);
      if (p == plans_.end()) return;
      const config::JobSpec& spec = p->second->spec;
      if (spec.concurrency == config::ConcurrencyPolicy::forbid) {
        wait = state.unfinished_of_job(r->job) > 0;
        if (wait) return;
      }
      Result<std::vector<std::string>> agents = pick_agents(
          state, spec, r->slot_ms + r->attempt,
          r->state == State::lost ? r->agent : std::string(), healthy);
      if (!agents.ok()) {
        wait = true;
        return;
      }
      controller::CreateRun c;
      c.job = r->job;
      c.slot_ms = r->slot_ms;
      c.attempt = r->attempt + 1;
      c.agent = agents->front();
      c.shard_index = r->shard_index;
      c.shard_count = r->shard_count;
      c.now_ms = now;
      c.lease_until_ms = now + to_ms(options_.lease);
      c.manual = r->manual;
      create = std::move(c);
    });
    std::lock_guard lock(sched_mu_);
    if (wait) {
      // Try again in a second (a forbid run still going, no agent).
      retries_.emplace(now + 1000, failed_id);
      continue;
    }
    if (!create) {
      retry_pending_.erase(failed_id);
      continue;
    }
    propose_async(std::move(*create), [this, failed_id](Status s) {
      if (s.ok()) {
        metrics_->retries.inc();
      } else {
        jobs_log().warn("retry not created", {{"failed_run", failed_id},
                                              {"error", s.error().message}});
      }
      std::lock_guard done(sched_mu_);
      retry_pending_.erase(failed_id);
    });
  }
}

Result<std::vector<RunRecord>> JobService::run_now(const std::string& job) {
  std::vector<controller::CreateRun> creates;
  Status refused = ok_status();
  const std::int64_t now = now_ms();
  const Health healthy = health();
  cluster_.read([&](const controller::ClusterState& state) {
    const controller::JobRecord* j = state.job(job);
    if (j == nullptr) {
      refused = Error(Code::not_found, "job \"" + job + "\": not found",
                      "list the jobs with: nwctl job list", "jobs");
      return;
    }
    Result<config::JobSpec> spec = config::decode_job(j->spec_json);
    if (!spec.ok()) {
      refused = spec.error();
      return;
    }
    std::vector<std::uint64_t> open;
    for (const RunRecord* r : state.unfinished_runs()) {
      if (r->job == job) open.push_back(r->run_id);
    }
    if (!open.empty()) {
      if (spec->concurrency == config::ConcurrencyPolicy::forbid) {
        refused = Error(Code::conflict,
                        "job \"" + job + "\" has a run in progress (run " +
                            std::to_string(open.front()) +
                            ") and its concurrency is forbid",
                        "wait for it (nwctl job logs " +
                            std::to_string(open.front()) +
                            " --follow) or stop it (nwctl job kill " +
                            std::to_string(open.front()) + ")",
                        "jobs");
        return;
      }
      if (spec->concurrency == config::ConcurrencyPolicy::replace) {
        kill_runs_of(state, job);
      }
    }
    Result<std::vector<std::string>> agents =
        pick_agents(state, *spec, now, "", healthy);
    if (!agents.ok()) {
      refused = Error(Code::unavailable, agents.error().message,
                      "check the job's placement labels against nwctl "
                      "cluster status",
                      "jobs");
      return;
    }
    const auto count = static_cast<std::uint32_t>(agents->size());
    for (std::uint32_t i = 0; i < count; ++i) {
      controller::CreateRun c;
      c.job = job;
      c.slot_ms = now;
      c.agent = (*agents)[i];
      c.shard_index = i;
      c.shard_count = count;
      c.now_ms = now;
      c.lease_until_ms = now + to_ms(options_.lease);
      c.manual = true;
      creates.push_back(std::move(c));
    }
  });
  if (!refused.ok()) return refused.error();
  std::vector<RunRecord> out;
  for (const controller::CreateRun& c : creates) {
    NW_RETURN_IF_ERROR(cluster_.propose(c, std::chrono::seconds(10)));
    cluster_.read([&](const controller::ClusterState& state) {
      // The newest run of this slot and shard is the one just made.
      for (const RunRecord* r : state.runs_of(job)) {
        if (r->manual && r->slot_ms == c.slot_ms &&
            r->shard_index == c.shard_index && r->attempt == 1) {
          out.push_back(*r);
        }
      }
    });
  }
  return out;
}

}  // namespace nw::jobs
