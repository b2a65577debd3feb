#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/controller/command.h"
#include "agent/controller/job_record.h"
#include "agent/jobs/output_store.h"
#include "agent/jobs/schedule.h"
#include "agent/service/service.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/config/job_spec.h"

namespace nw::cluster {
class Cluster;
}
namespace nw::state {
class StateDb;
}
namespace nw::controller {
class ClusterState;
}
namespace nw::http {
class Server;
struct Request;
struct Response;
}  // namespace nw::http
namespace nw::metrics {
class Registry;
class Gauge;
class Counter;
class Histogram;
}  // namespace nw::metrics

namespace nw::jobs {

struct JobServiceOptions {
  std::string node_id;
  int workers = 4;
  // A run's lease: its agent renews it every third; the leader marks a run
  // whose lease passed lost.
  Duration lease = std::chrono::seconds(30);
  // A run that is still going after this is reported `running` (shorter
  // runs are reported once, at their end).
  Duration report_running_after = std::chrono::seconds(1);
  // SIGTERM -> SIGKILL on timeout and kill.
  Duration kill_grace = std::chrono::seconds(10);
  OutputStore* store = nullptr;  // REQUIRED
  state::StateDb* db = nullptr;  // REQUIRED: the runs started here
};

// The jobs of issue 5 on one agent: the scheduler (active on the
// controller leader only) and the runner (on every agent).
//
// Scheduler: for every enabled job it keeps the next slot after the job's
// committed last_slot_ms and, when the slot is due by the leader's clock,
// commits a CreateRun (or a RecordMissed with the reason) before anything
// runs. Slots that are late past starting_deadline follow the job's
// `missed` policy; `forbid` with an unfinished run makes a slot missed;
// `replace` kills the unfinished runs first. Runs whose lease passed are
// marked lost; failed, timed-out and lost runs are retried per `retries`
// (attempt + 1 after the backoff, on the least busy agent). A new leader
// rebuilds all of this from the committed state, so a slot is never run
// twice and never dropped without a RecordMissed.
//
// Runner: the runs dispatched to this agent go into a priority queue
// (priority, then slot) served by `workers` threads; each run is a
// ProcessRunner whose output is kept live (LiveOutput) and then stored
// (OutputStore). Reports carry the run's fencing token: a refused report
// (the run was marked lost, or finished) kills the process and drops the
// run.
//
// Threads: a scheduler thread, a watcher thread (dispatched runs, leases),
// the workers, and a small pool that sends proposals so that slow commits
// do not stall the loops. The API handlers (job_api.cc) run on the HTTP
// threads.
class JobService final : public service::Service {
 public:
  JobService(JobServiceOptions options, cluster::Cluster& cluster,
             metrics::Registry& registry);
  ~JobService() override;
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  std::string_view name() const override { return "jobs"; }
  Status start() override;
  void stop() override;

  // /v1/jobs, /v1/runs and /v1/locks (docs/api.md).
  void add_routes(http::Server& server);

 private:
  // Agent id -> reachable now (health(), taken outside the cluster's read
  // lock).
  using Health = std::map<std::string, bool>;
  struct Plan;
  struct Chain;
  struct Active;
  struct QueueItem {
    int priority = 0;
    std::int64_t slot_ms = 0;
    std::uint64_t run_id = 0;
    bool operator<(const QueueItem& o) const;  // the next to run is largest
  };

  // --- scheduler (scheduler.cc) ---
  void scheduler_loop();
  void scheduler_step(std::int64_t now_ms);
  void rebuild_plans(const controller::ClusterState& state,
                     std::int64_t now_ms);
  void sync_plans(const controller::ClusterState& state, std::int64_t now_ms);
  void plan_job(Plan& p, std::int64_t now_ms);
  void run_due(const std::string& name, std::int64_t now_ms,
               const Health& healthy);
  void run_retries(std::int64_t now_ms, const Health& healthy);
  void chain_step(std::shared_ptr<Chain> c, Status s);
  // The agents a job's runs go to now: least busy first; empty with a
  // reason when none fits.
  Health health() const;
  Result<std::vector<std::string>> pick_agents(
      const controller::ClusterState& state, const config::JobSpec& spec,
      std::int64_t slot_ms, const std::string& avoid, const Health& healthy);
  // Queues retries for the failed runs among `ids` (or, with rescan, for
  // every failed last attempt in the state). REQUIRES: sched_mu_ held.
  void queue_retries(const controller::ClusterState& state,
                     const std::vector<std::uint64_t>& ids, bool rescan);
  // Kills the unfinished runs of `job` (replace), asynchronously.
  void kill_runs_of(const controller::ClusterState& state,
                    const std::string& job);

  // --- runner (runner.cc) ---
  void watcher_loop();
  void recover_started();
  void watch_dispatched();
  void renew_leases();
  void worker_loop();
  void execute(std::uint64_t run_id);
  // Sends `u` (from any thread) and waits; false when the run is no longer
  // ours (fencing token refused, or the run already finished).
  bool report(const controller::UpdateRun& u);
  // Queues the end report of a run for the reporter thread, which sends
  // what is ready as one ReportRuns (or a lone UpdateRun).
  void enqueue_report(const controller::UpdateRun& u);
  void reporter_loop();
  void report_batch(const std::vector<controller::UpdateRun>& us);

  // --- API (job_api.cc) ---
  void add_lock_routes(http::Server& server);
  Result<std::pair<controller::RunRecord, std::string>> locate(
      std::uint64_t run_id);
  http::Response logs(const http::Request& r);
  http::Response kill(const http::Request& r);

  // --- shared (job_service.cc) ---
  // Runs `task` on the task pool (proposals, calls to other agents), so
  // slow commits and slow agents do not stall the loops.
  void post(std::function<void()> task);
  // Proposes `cmd` on the task pool; `done` gets the result there.
  void propose_async(controller::Command cmd, std::function<void(Status)> done);
  void pool_loop();
  std::int64_t now_ms() const;

 public:
  // --- for the API (job_api.cc); leader-side unless said otherwise ---
  Result<std::vector<controller::RunRecord>> run_now(const std::string& job);
  // On the run's agent: cancels it (`why` goes into the run's reason).
  // not_found when this agent does not hold it.
  Status kill_local(std::uint64_t run_id,
                    const std::string& why = "killed by nwctl job kill");
  // On the run's agent: the live output of a running run; nullptr if it is
  // not running here.
  std::shared_ptr<LiveOutput> live_output(std::uint64_t run_id) const;
  OutputStore& store() { return *options_.store; }
  cluster::Cluster& cluster() { return cluster_; }
  const std::string& node_id() const { return options_.node_id; }
  // The next slot of a job as the scheduler sees it (leader only).
  std::optional<std::int64_t> next_slot(const std::string& job) const;

 private:
  const JobServiceOptions options_;
  cluster::Cluster& cluster_;
  metrics::Registry& registry_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;

  std::atomic<bool> stopping_{false};
  std::thread scheduler_thread_;
  std::thread watcher_thread_;
  std::vector<std::thread> workers_;
  std::vector<std::thread> pool_;

  // Scheduler state: touched on the scheduler thread; mu_sched_ guards
  // what the API reads (next slots) and the completions of async work.
  mutable std::mutex sched_mu_;
  bool leading_ = false;
  std::uint64_t jobs_version_seen_ = 0;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
  std::set<std::pair<std::int64_t, std::string>> due_;  // (next_ms, job)
  std::uint64_t finished_seen_ = 0;  // ClusterState::finished_seq()
  // Agent -> its clock's offset from this leader's (ms), refreshed every
  // second; scheduler thread only.
  std::map<std::string, std::int64_t> clock_offsets_;
  MonoTime offsets_at_;
  MonoTime leases_at_;  // next lease scan
  // Runner: the largest run id of this agent's unfinished runs seen (new
  // runs have larger ids), and when runs are next checked for revocation;
  // watcher thread only.
  std::uint64_t max_seen_run_ = 0;
  MonoTime revoke_at_;
  std::set<std::uint64_t> expiring_;  // lost proposals in flight
  // (due ms, run id of the failed attempt) -> retry
  std::set<std::pair<std::int64_t, std::uint64_t>> retries_;
  std::set<std::uint64_t> retry_pending_;  // failed run ids queued/in flight
  std::vector<std::string> finished_ops_;  // jobs whose async op completed
  std::condition_variable sched_cv_;

  // Runner state, guarded by run_mu_.
  mutable std::mutex run_mu_;
  std::condition_variable run_cv_;
  std::set<QueueItem> queue_;  // dispatched here, not started
  std::map<std::uint64_t, std::unique_ptr<Active>> active_;  // known here
  std::set<std::uint64_t> done_;  // finished here, until the state agrees

  // End reports waiting for the reporter thread.
  std::mutex report_mu_;
  std::condition_variable report_cv_;
  std::deque<controller::UpdateRun> reports_;
  std::thread reporter_thread_;

  // Task pool.
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace nw::jobs
