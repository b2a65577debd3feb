// JobService: construction, start and stop, the proposal pool and the
// metrics. The scheduler is in scheduler.cc, the runner in runner.cc, the
// HTTP routes in job_api.cc.
#include "agent/jobs/job_service.h"

#include "agent/cluster/cluster.h"
#include "agent/jobs/job_service_internal.h"

namespace nw::jobs {
namespace {

// Tasks (mostly proposals) in flight at once: enough to keep the
// controller's Raft batching when many slots are due together.
constexpr int kPoolThreads = 48;
constexpr auto kProposeTimeout = std::chrono::seconds(10);

}  // namespace

std::string format_ms(std::int64_t ms) {
  return format_rfc3339_millis(WallTime(std::chrono::milliseconds(ms)));
}

JobService::Metrics::Metrics(metrics::Registry& r)
    : slots_dispatched(
          r.counter("nw_job_slots_total",
                    "Job slots the scheduler handled (leader), by outcome",
                    {"outcome"})
              .with({"dispatched"})),
      slots_missed(r.counter("nw_job_slots_total",
                             "Job slots the scheduler handled (leader), by "
                             "outcome",
                             {"outcome"})
                       .with({"missed"})),
      runs_lost(r.counter("nw_job_runs_lost_total",
                          "Runs the leader marked lost (lease expired)")
                    .with()),
      retries(
          r.counter("nw_job_retries_total", "Retry attempts the leader started")
              .with()),
      queued(r.gauge("nw_job_runs_queued",
                     "Runs dispatched to this agent waiting for a worker")
                 .with()),
      running(r.gauge("nw_job_runs_running",
                      "Runs whose process runs on this agent now")
                  .with()),
      lateness(r.histogram("nw_job_start_lateness_seconds",
                           "How long after its slot a run's process started "
                           "on this agent",
                           {},
                           {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                            0.5, 1, 2.5, 5, 10, 30, 60})
                   .with()),
      finished(r.counter("nw_job_runs_finished_total",
                         "Runs that ended on this agent, by final state",
                         {"state"})) {}

bool JobService::QueueItem::operator<(const QueueItem& o) const {
  // begin() is the next to run: higher priority, then earlier slot.
  if (priority != o.priority) return priority > o.priority;
  if (slot_ms != o.slot_ms) return slot_ms < o.slot_ms;
  return run_id < o.run_id;
}

JobService::JobService(JobServiceOptions options, cluster::Cluster& cluster,
                       metrics::Registry& registry)
    : options_(std::move(options)),
      cluster_(cluster),
      registry_(registry),
      metrics_(std::make_unique<Metrics>(registry)) {}

JobService::~JobService() { stop(); }

Status JobService::start() {
  if (options_.store == nullptr || options_.db == nullptr ||
      options_.workers < 1) {
    return Error(Code::invalid_argument, "jobs: no output store or workers", {},
                 "jobs");
  }
  stopping_ = false;
  for (int i = 0; i < kPoolThreads; ++i) {
    pool_.emplace_back([this] { pool_loop(); });
  }
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { worker_loop(); });
  }
  watcher_thread_ = std::thread([this] { watcher_loop(); });
  reporter_thread_ = std::thread([this] { reporter_loop(); });
  scheduler_thread_ = std::thread([this] { scheduler_loop(); });
  return ok_status();
}

void JobService::stop() {
  if (stopping_.exchange(true)) return;
  {
    // Running processes are cancelled; their runs end as cancelled (or,
    // when the report cannot be sent any more, lost after their lease).
    std::lock_guard lock(run_mu_);
    for (auto& [id, a] : active_) {
      a->cancel_requested = true;
      if (a->runner) a->runner->cancel();
    }
  }
  run_cv_.notify_all();
  sched_cv_.notify_all();
  if (scheduler_thread_.joinable()) scheduler_thread_.join();
  if (watcher_thread_.joinable()) watcher_thread_.join();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  // Reports of runs that ended are sent (one try when no leader answers).
  report_cv_.notify_all();
  if (reporter_thread_.joinable()) reporter_thread_.join();
  pool_cv_.notify_all();
  for (std::thread& t : pool_) t.join();
  pool_.clear();
}

std::int64_t JobService::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             wall_now().time_since_epoch())
      .count();
}

void JobService::post(std::function<void()> task) {
  {
    std::lock_guard lock(pool_mu_);
    tasks_.push_back(std::move(task));
  }
  pool_cv_.notify_one();
}

void JobService::propose_async(controller::Command cmd,
                               std::function<void(Status)> done) {
  post([this, cmd = std::move(cmd), done = std::move(done)] {
    Status s = stopping_
                   ? Status(Error(Code::unavailable, "stopping", {}, "jobs"))
                   : cluster_.propose(cmd, kProposeTimeout);
    if (done) done(std::move(s));
  });
}

void JobService::pool_loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(pool_mu_);
      pool_cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

JobService::Health JobService::health() const {
  Health out;
  for (const cluster::MemberView& m : cluster_.view(true).members) {
    out[m.id] = m.state == "healthy";
  }
  return out;
}

std::shared_ptr<LiveOutput> JobService::live_output(
    std::uint64_t run_id) const {
  std::lock_guard lock(run_mu_);
  auto it = active_.find(run_id);
  if (it == active_.end()) return nullptr;
  return it->second->output;
}

std::optional<std::int64_t> JobService::next_slot(
    const std::string& job) const {
  std::lock_guard lock(sched_mu_);
  if (!leading_) return std::nullopt;
  auto it = plans_.find(job);
  if (it == plans_.end() || it->second->next_ms == 0 || !it->second->enabled) {
    return std::nullopt;
  }
  return it->second->next_ms;
}

}  // namespace nw::jobs
