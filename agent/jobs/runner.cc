// JobService's runner: on every agent, runs the runs dispatched to it.

#include "agent/cluster/cluster.h"
#include "agent/controller/cluster_state.h"
#include "agent/jobs/job_service_internal.h"
#include "agent/jobs/run_policy.h"
#include "agent/state/state_db.h"
#include "common/config/job_codec.h"

namespace nw::jobs {
namespace {

using controller::RunRecord;
using State = controller::RunRecord::State;

constexpr auto kWatchWait = std::chrono::milliseconds(100);
constexpr auto kReportTimeout = std::chrono::seconds(10);

}  // namespace

void JobService::watcher_loop() {
  // Runs this agent started before it stopped and never reported: their
  // outcome is unknown, and starting them again could run a slot twice.
  recover_started();
  std::uint64_t seen = 0;
  while (!stopping_) {
    watch_dispatched();
    renew_leases();
    seen = cluster_.wait_for_change(seen, kWatchWait);
  }
}

void JobService::recover_started() {
  auto rows = options_.db->query("SELECT run_id, started_ms FROM run_started");
  if (!rows.ok()) {
    jobs_log().error("cannot read run_started",
                     {{"error", rows.error().message}});
    return;
  }
  if (rows->empty()) return;
  // The runs' fate is read from the current state, not from what this
  // agent had applied when it stopped.
  while (!stopping_ && !cluster_.read_barrier(std::chrono::seconds(5)).ok()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const state::Row& row : *rows) {
    const auto id = static_cast<std::uint64_t>(std::get<std::int64_t>(row[0]));
    const std::int64_t started = std::get<std::int64_t>(row[1]);
    std::optional<RunRecord> run;
    cluster_.read([&](const controller::ClusterState& state) {
      if (const RunRecord* r = state.run(id)) run = *r;
    });
    {
      std::lock_guard lock(run_mu_);
      done_.insert(id);  // never picked up again
    }
    if (run && !run->finished()) {
      // Its process, in its own session, may still be running: reporting
      // the run ended now could let the next run start beside it. The
      // run is left to its lease (the leader marks it lost and retries it
      // per policy), which gives the orphan that long to finish.
      jobs_log().warn(
          "run interrupted by an agent restart; left to its lease (its "
          "process may still be running)",
          {{"run", id}, {"job", run->job}, {"started_ms", started}});
    } else {
      // Lost (and maybe retried) while this agent was away, or gone.
      jobs_log().info(
          "interrupted run already settled by the cluster; report discarded",
          {{"run", id},
           {"state", run ? std::string(to_string(run->state)) : "gone"}});
    }
    (void)options_.db->exec("DELETE FROM run_started WHERE run_id = ?",
                            {static_cast<std::int64_t>(id)});
  }
}

void JobService::watch_dispatched() {
  struct Orphan {
    RunRecord run;
    std::string reason;
  };
  std::vector<Orphan> orphans;  // dispatched here, job gone
  std::vector<std::uint64_t> revoked;
  std::size_t queued = 0;
  const bool check_revoked = mono_now() >= revoke_at_;
  if (check_revoked) revoke_at_ = mono_now() + std::chrono::milliseconds(200);
  cluster_.read([&](const controller::ClusterState& state) {
    std::lock_guard lock(run_mu_);
    // Only runs newer than the last seen: their ids are log indexes.
    const std::set<std::uint64_t>* mine = state.unfinished_on(options_.node_id);
    std::vector<const RunRecord*> fresh;
    if (mine != nullptr) {
      for (auto it = mine->upper_bound(max_seen_run_); it != mine->end();
           ++it) {
        fresh.push_back(state.run(*it));
      }
      if (!mine->empty()) {
        max_seen_run_ = std::max(max_seen_run_, *mine->rbegin());
      }
    }
    for (const RunRecord* r : fresh) {
      if (r == nullptr || r->state != State::dispatched) continue;
      if (active_.count(r->run_id) != 0 || done_.count(r->run_id) != 0) {
        continue;
      }
      const controller::JobRecord* j = state.job(r->job);
      Result<config::JobSpec> spec =
          j != nullptr
              ? config::decode_job(j->spec_json)
              : Result<config::JobSpec>(
                    Error(Code::not_found, "the job was deleted", {}, "jobs"));
      if (!spec.ok()) {
        done_.insert(r->run_id);
        orphans.push_back(Orphan{*r, spec.error().message});
        continue;
      }
      auto a = std::make_unique<Active>();
      a->run = *r;
      a->spec = std::move(*spec);
      a->output = std::make_shared<LiveOutput>(
          static_cast<std::size_t>(a->spec.output_limit));
      a->next_renewal = mono_now() + options_.lease / 3;
      queue_.insert(QueueItem{a->spec.priority, r->slot_ms, r->run_id});
      active_.emplace(r->run_id, std::move(a));
      ++queued;
    }
    metrics_->queued.set(static_cast<double>(queue_.size()));
    if (!check_revoked) return;
    // Runs this agent holds that the cluster finished meanwhile (lost,
    // or the job was deleted and its run dropped): their fencing token is
    // no longer good, so they stop. A run whose process ended is not one.
    for (auto& [id, a] : active_) {
      if (a->finishing) continue;
      const RunRecord* r = state.run(id);
      if (r != nullptr && !r->finished()) continue;
      if (!a->cancel_requested) {
        a->cancel_requested = true;
        a->cancel_reason = "the cluster no longer assigns this run here";
        revoked.push_back(id);
        if (a->runner) a->runner->cancel();
      }
    }
    for (auto it = done_.begin(); it != done_.end();) {
      const RunRecord* r = state.run(*it);
      it = (r == nullptr || r->finished()) ? done_.erase(it) : std::next(it);
    }
  });
  if (queued > 0 || !revoked.empty()) run_cv_.notify_all();
  for (const Orphan& o : orphans) {
    controller::UpdateRun u;
    u.run_id = o.run.run_id;
    u.fencing_token = o.run.fencing_token;
    u.state = State::cancelled;
    u.ended_ms = now_ms();
    u.reason = "not started: " + o.reason;
    post([this, u] { report(u); });
  }
  for (std::uint64_t id : revoked) {
    jobs_log().warn("run revoked by the cluster; stopping it", {{"run", id}});
  }
}

void JobService::renew_leases() {
  const MonoTime now = mono_now();
  std::vector<controller::UpdateRun> sends;
  {
    std::lock_guard lock(run_mu_);
    for (auto& [id, a] : active_) {
      if (a->renewing || a->cancel_requested || a->finishing) continue;
      controller::UpdateRun u;
      u.run_id = id;
      u.fencing_token = a->run.fencing_token;
      if (a->started && !a->reported_running &&
          now - a->started_mono >= options_.report_running_after) {
        u.state = State::running;
        u.started_ms = a->started_ms;
      } else if (now >= a->next_renewal) {
        u.state = a->reported_running ? State::running : State::dispatched;
      } else {
        continue;
      }
      u.lease_until_ms = now_ms() + to_ms(options_.lease);
      a->renewing = true;
      sends.push_back(u);
    }
  }
  for (const controller::UpdateRun& u : sends) {
    post([this, u] {
      const bool ok = report(u);
      std::lock_guard lock(run_mu_);
      auto it = active_.find(u.run_id);
      if (it == active_.end()) return;
      Active& a = *it->second;
      a.renewing = false;
      if (ok) {
        if (u.state == State::running) a.reported_running = true;
        a.next_renewal = mono_now() + options_.lease / 3;
      } else if (!a.cancel_requested && !a.finishing) {
        // Refused: the run is not ours any more.
        a.cancel_requested = true;
        a.cancel_reason = "the lease was lost";
        if (a.runner) a.runner->cancel();
        run_cv_.notify_all();
      }
    });
  }
}

void JobService::worker_loop() {
  while (true) {
    std::uint64_t id = 0;
    {
      std::unique_lock lock(run_mu_);
      run_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = queue_.begin()->run_id;
      queue_.erase(queue_.begin());
      metrics_->queued.set(static_cast<double>(queue_.size()));
    }
    execute(id);
  }
}

void JobService::execute(std::uint64_t run_id) {
  RunRecord run;
  config::JobSpec spec;
  std::shared_ptr<LiveOutput> output;
  bool cancelled = false;
  std::string cancel_reason;
  {
    std::lock_guard lock(run_mu_);
    auto it = active_.find(run_id);
    if (it == active_.end()) return;
    Active& a = *it->second;
    run = a.run;
    spec = a.spec;
    output = a.output;
    cancelled = a.cancel_requested;
    cancel_reason = a.cancel_reason;
  }
  auto forget = [&] {
    output->finish();
    std::lock_guard lock(run_mu_);
    active_.erase(run_id);
    done_.insert(run_id);
  };
  if (cancelled) {
    controller::UpdateRun u;
    u.run_id = run_id;
    u.fencing_token = run.fencing_token;
    u.state = State::cancelled;
    u.ended_ms = now_ms();
    u.reason =
        cancel_reason.empty() ? "cancelled before it started" : cancel_reason;
    forget();
    enqueue_report(u);
    return;
  }

  RunIdentity who;
  who.job = run.job;
  who.run_id = std::to_string(run_id);
  who.slot = format_ms(run.slot_ms);
  who.shard_index = run.shard_index;
  who.shard_count = run.shard_count;
  auto runner = std::make_unique<ProcessRunner>(
      run_spec(spec, options_.kill_grace), who,
      [output](std::string_view chunk) { output->append(chunk); });
  const std::int64_t started_ms = now_ms();
  // Recorded before the process starts: after a crash this run is
  // reported, never started again.
  if (Status s = options_.db->exec(
          "INSERT OR REPLACE INTO run_started(run_id, job, started_ms) "
          "VALUES (?, ?, ?)",
          {static_cast<std::int64_t>(run_id), run.job, started_ms});
      !s.ok()) {
    jobs_log().error("cannot record a run start; not starting it",
                     {{"run", run_id}, {"error", s.error().message}});
    controller::UpdateRun u;
    u.run_id = run_id;
    u.fencing_token = run.fencing_token;
    u.state = State::failed;
    u.exit_code = 1;
    u.ended_ms = now_ms();
    u.reason = "not started: the agent's state.db failed: " + s.error().message;
    forget();
    enqueue_report(u);
    return;
  }
  {
    std::lock_guard lock(run_mu_);
    Active& a = *active_.at(run_id);
    a.runner = std::move(runner);
    a.started = true;
    a.started_ms = started_ms;
    a.started_mono = mono_now();
    if (a.cancel_requested) a.runner->cancel();
  }
  metrics_->running.inc();
  if (!run.manual && run.attempt == 1) {
    metrics_->lateness.observe(static_cast<double>(std::max<std::int64_t>(
                                   0, started_ms - run.slot_ms)) /
                               1000.0);
  }
  ProcessRunner* pr = nullptr;
  {
    std::lock_guard lock(run_mu_);
    pr = active_.at(run_id)->runner.get();
  }
  Result<RunResult> res = pr->run();
  metrics_->running.dec();
  std::string why;
  {
    std::lock_guard lock(run_mu_);
    Active& a = *active_.at(run_id);
    a.finishing = true;
    why = a.cancel_reason;
  }
  controller::UpdateRun u;
  if (!res.ok()) {
    u.run_id = run_id;
    u.fencing_token = run.fencing_token;
    u.state = State::failed;
    u.exit_code = 1;
    u.started_ms = started_ms;
    u.ended_ms = now_ms();
    u.reason = "could not run: " + res.error().message;
  } else {
    u = final_update(run, *res, why, spec.timeout);
    if (u.started_ms == 0 && res->reason != EndReason::failed_to_start) {
      u.started_ms = started_ms;
    }
    // The output is stored before the end is reported, so whoever sees
    // the run finished can read all of it.
    if (Status s = options_.store->put(
            stored_output(run_id, run.job, res->output, res->ended_at));
        !s.ok()) {
      jobs_log().error("cannot store a run's output",
                       {{"run", run_id}, {"error", s.error().message}});
    }
  }
  if (u.started_ms == 0) u.started_ms = started_ms;
  metrics_->finished.with({to_string(u.state)}).inc();
  // The worker is free at once; the reporter sends the end (grouped
  // with others that are ready) and then forgets the start record.
  forget();
  enqueue_report(u);
}

void JobService::enqueue_report(const controller::UpdateRun& u) {
  {
    std::lock_guard lock(report_mu_);
    reports_.push_back(u);
  }
  report_cv_.notify_one();
}

void JobService::reporter_loop() {
  while (true) {
    std::vector<controller::UpdateRun> batch;
    {
      std::unique_lock lock(report_mu_);
      report_cv_.wait(lock, [&] { return stopping_ || !reports_.empty(); });
      if (reports_.empty()) return;  // stopping, nothing left
      // Whatever is ready goes together: under load, reports pile up
      // while the previous batch commits, so a batch costs one entry.
      while (!reports_.empty() && batch.size() < controller::kMaxReportRuns) {
        batch.push_back(std::move(reports_.front()));
        reports_.pop_front();
      }
    }
    if (batch.size() == 1) {
      report(batch.front());
    } else {
      report_batch(batch);
    }
    std::string sql = "DELETE FROM run_started WHERE run_id IN (";
    state::Params ids;
    for (const controller::UpdateRun& u : batch) {
      sql += ids.empty() ? "?" : ",?";
      ids.emplace_back(static_cast<std::int64_t>(u.run_id));
    }
    sql += ")";
    if (Status s = options_.db->exec(sql, ids); !s.ok()) {
      jobs_log().warn("cannot clear run start records",
                      {{"error", s.error().message}});
    }
  }
}

void JobService::report_batch(const std::vector<controller::UpdateRun>& us) {
  // As report(): unavailable is retried until a lease would have passed.
  const MonoTime deadline = mono_now() + options_.lease;
  Duration backoff = std::chrono::milliseconds(50);
  const controller::Command cmd = controller::ReportRuns{us};
  while (true) {
    Status s = cluster_.propose(cmd, kReportTimeout);
    if (s.ok()) return;
    const Code c = s.error().code;
    if ((c != Code::unavailable && c != Code::timeout) ||
        mono_now() + backoff > deadline || stopping_) {
      jobs_log().warn("run reports not delivered",
                      {{"runs", us.size()}, {"error", s.error().message}});
      return;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(1));
  }
}

bool JobService::report(const controller::UpdateRun& u) {
  // Until the lease would pass anyway: unavailable (no leader for a
  // moment) is retried; a refusal means the run is not ours any more.
  const MonoTime deadline = mono_now() + options_.lease;
  Duration backoff = std::chrono::milliseconds(50);
  while (true) {
    Status s = cluster_.propose(u, kReportTimeout);
    if (s.ok()) return true;
    const Code c = s.error().code;
    if (c != Code::unavailable && c != Code::timeout) {
      jobs_log().warn("run report refused; dropping the run",
                      {{"run", u.run_id},
                       {"state", std::string(to_string(u.state))},
                       {"error", s.error().message}});
      return false;
    }
    if (mono_now() + backoff > deadline || stopping_) {
      jobs_log().warn("run report not delivered",
                      {{"run", u.run_id}, {"error", s.error().message}});
      return false;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min<Duration>(backoff * 2, std::chrono::seconds(1));
  }
}

Status JobService::kill_local(std::uint64_t run_id, const std::string& why) {
  std::lock_guard lock(run_mu_);
  auto it = active_.find(run_id);
  if (it == active_.end()) {
    return Error(Code::not_found,
                 "run " + std::to_string(run_id) + " is not running on " +
                     options_.node_id,
                 {}, "jobs");
  }
  Active& a = *it->second;
  if (!a.cancel_requested) {
    a.cancel_requested = true;
    a.cancel_reason = why;
  }
  if (a.runner) {
    a.runner->cancel();
    return ok_status();
  }
  // Still queued: it ends now, without waiting for a worker.
  for (auto q = queue_.begin(); q != queue_.end(); ++q) {
    if (q->run_id == run_id) {
      queue_.erase(q);
      post([this, run_id] { execute(run_id); });
      break;
    }
  }
  return ok_status();
}

}  // namespace nw::jobs
