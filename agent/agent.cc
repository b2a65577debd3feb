#include "agent/agent.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "agent/cluster/cluster.h"
#include "agent/jobs/job_service.h"
#include "agent/jobs/output_store.h"
#include "agent/jobs/process_runner.h"
#include "agent/metrics/process_collector.h"
#include "agent/metrics/registry.h"
#include "agent/options.h"
#include "agent/partition/partition_manager.h"
#include "agent/server/api_server.h"
#include "agent/service/service_manager.h"
#include "agent/state/data_dir.h"
#include "agent/state/state_db.h"
#include "common/base/log.h"
#include "common/base/strings.h"
#include "common/base/version.h"

namespace nw::agent {
namespace {

const log::Logger kLog("agent");

}  // namespace

struct Agent::Parts {
  std::optional<state::DataDir> data_dir;
  std::unique_ptr<state::StateDb> state;
  std::unique_ptr<jobs::OutputStore> outputs;
  metrics::Registry registry;
  std::unique_ptr<metrics::ProcessCollector> process;
  service::ServiceManager services;
  server::ApiServer* api = nullptr;     // owned by services
  cluster::Cluster* cluster = nullptr;  // owned by services
};

void block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

Agent::Agent(config::AgentConfig config, const AgentCli& cli)
    : config_(std::move(config)),
      cli_(cli),
      started_at_(wall_now()),
      started_mono_(mono_now()),
      parts_(std::make_unique<Parts>()) {}

Agent::~Agent() = default;

int recover(const config::AgentConfig& config) {
  Result<state::DataDir> dir =
      state::DataDir::open(config.data_dir, config.node_id);
  if (!dir.ok()) {
    std::cerr << "nwagent --recover: " << dir.error().message << "\n";
    if (!dir.error().hint.empty()) {
      std::cerr << "hint: " << dir.error().hint << "\n";
    }
    return exit_code(dir.error().code);
  }
  Result<std::string> summary =
      cluster::Cluster::recover(dir->path(), dir->node_id());
  if (!summary.ok()) {
    std::cerr << "nwagent --recover: " << summary.error().message << "\n";
    if (!summary.error().hint.empty()) {
      std::cerr << "hint: " << summary.error().hint << "\n";
    }
    return exit_code(summary.error().code);
  }
  std::cout << *summary << "\n";
  return 0;
}

int Agent::run() {
  if (Status s = start(); !s.ok()) {
    const Error& e = s.error();
    if (e.hint.empty()) {
      kLog.error("start failed", {{"error", e.message}});
    } else {
      kLog.error("start failed", {{"error", e.message}, {"hint", e.hint}});
    }
    // Also on stderr when the log goes to a file: whoever started the
    // agent is looking at the terminal.
    if (!config_.log.file.empty()) {
      std::cerr << "nwagent: " << e.message << "\n";
      if (!e.hint.empty()) std::cerr << "hint: " << e.hint << "\n";
    }
    shutdown();
    return exit_code(e.code);
  }
  wait_for_signals();
  std::lock_guard lock(fatal_mu_);
  if (fatal_) {
    std::cerr << "nwagent: " << fatal_->message << "\n";
    if (!fatal_->hint.empty()) std::cerr << "hint: " << fatal_->hint << "\n";
    return exit_code(fatal_->code);
  }
  return 0;
}

Status Agent::start() {
  Parts& p = *parts_;
  NW_ASSIGN_OR_RETURN(state::DataDir dir,
                      state::DataDir::open(config_.data_dir, config_.node_id));
  p.data_dir.emplace(std::move(dir));
  std::error_code ec;
  auto abs = std::filesystem::absolute(p.data_dir->path(), ec);
  data_dir_display_ = ec ? p.data_dir->path() : abs.lexically_normal().string();
  NW_ASSIGN_OR_RETURN(p.state,
                      state::StateDb::open(p.data_dir->path_of("state.db")));
  NW_ASSIGN_OR_RETURN(std::int64_t starts,
                      state::record_start(*p.state, started_at_));
  // Grandchildren of job runs whose parent died are reaped by the runner,
  // not left as zombies.
  if (Status s = jobs::enable_child_subreaper(); !s.ok()) {
    kLog.warn("cannot become the reaper of job processes",
              {{"error", s.error().message}});
  }
  p.outputs = std::make_unique<jobs::OutputStore>(*p.state,
                                                  jobs::OutputStore::Limits{});

  p.process = std::make_unique<metrics::ProcessCollector>(p.registry);
  p.registry
      .gauge("nw_build_info", "Version and commit of this nwagent; always 1",
             {"version", "commit"})
      .with({kVersion, kGitCommit})
      .set(1);

  http::ServerOptions http_opts;
  http_opts.listen = config_.api.listen;
  http_opts.threads = config_.api.threads;
  http_opts.read_timeout = config_.api.read_timeout;
  http_opts.write_timeout = config_.api.write_timeout;
  http_opts.max_body_size = config_.api.max_body_size;
  server::ApiServer::Providers providers;
  providers.status = [this] {
    api::StatusInfo s;
    s.node_id = parts_->data_dir->node_id();
    s.version = kVersion;
    s.commit = kGitCommit;
    s.data_dir = data_dir_display_;
    s.role = parts_->cluster->role();
    s.api_addr = parts_->api->address();
    s.peer_addr = parts_->cluster->peer_addr();
    s.cluster_id = parts_->cluster->cluster_id();
    s.leader = parts_->cluster->leader_id();
    s.term = parts_->cluster->term();
    s.log_level = std::string(log::to_string(log::level()));
    s.started_at = format_rfc3339_millis(started_at_);
    s.uptime_seconds =
        std::chrono::duration<double>(mono_now() - started_mono_).count();
    s.pid = ::getpid();
    return s;
  };
  providers.readiness = [this] {
    if (shutting_down_) return api::HealthInfo{"shutting_down", {"shutdown"}};
    if (!ready_) {
      return api::HealthInfo{"not_ready", {"services are starting"}};
    }
    const std::string why = parts_->cluster->not_ready_reason();
    if (!why.empty()) return api::HealthInfo{"not_ready", {why}};
    return api::HealthInfo{"ready", {}};
  };
  auto api = std::make_unique<server::ApiServer>(http_opts, p.registry,
                                                 std::move(providers));
  p.api = api.get();

  cluster::ClusterOptions copts;
  copts.node_id = p.data_dir->node_id();
  copts.data_dir = p.data_dir->path();
  copts.peer_listen = config_.peer.listen;
  copts.peer_advertise = config_.peer.advertise;
  copts.api_addr = [this] { return parts_->api->address(); };
  copts.bootstrap_expect = config_.cluster.bootstrap_expect;
  copts.join = config_.cluster.join;
  copts.tick_interval = config_.raft.tick_interval;
  copts.election_ticks = config_.raft.election_ticks;
  copts.heartbeat_ticks = config_.raft.heartbeat_ticks;
  copts.snapshot_threshold =
      static_cast<std::uint64_t>(config_.raft.snapshot_threshold);
  copts.on_fatal = [this](const Error& e) {
    {
      std::lock_guard lock(fatal_mu_);
      fatal_ = e;
    }
    ::kill(::getpid(), SIGTERM);
  };
  auto cluster = std::make_unique<cluster::Cluster>(copts, p.registry);
  p.cluster = cluster.get();
  cluster->add_routes(api->http());

  partition::ManagerOptions popts;
  popts.node_id = p.data_dir->node_id();
  popts.data_dir = p.data_dir->path();
  popts.tick_interval = config_.raft.tick_interval;
  popts.election_ticks = config_.raft.election_ticks;
  popts.heartbeat_ticks = config_.raft.heartbeat_ticks;
  auto partitions = std::make_unique<partition::PartitionManager>(
      popts, *cluster, p.registry);
  cluster->set_group_handler([pm = partitions.get()](const std::string& from,
                                                     std::uint64_t group,
                                                     std::string_view payload) {
    pm->on_message(from, group, payload);
  });
  partitions->add_routes(api->http());

  jobs::JobServiceOptions jopts;
  jopts.node_id = p.data_dir->node_id();
  jopts.workers = config_.jobs.workers;
  jopts.lease = config_.jobs.lease;
  jopts.kill_grace = config_.jobs.kill_grace;
  jopts.store = p.outputs.get();
  jopts.db = p.state.get();
  auto job_service =
      std::make_unique<jobs::JobService>(jopts, *cluster, p.registry);
  job_service->add_routes(api->http());
  p.services.add(std::move(api));
  p.services.add(std::move(cluster));
  p.services.add(std::move(partitions));
  p.services.add(std::move(job_service));
  NW_RETURN_IF_ERROR(p.services.start_all());
  ready_ = true;
  kLog.info("started", {{"node", p.data_dir->node_id()},
                        {"api", p.api->address()},
                        {"data_dir", data_dir_display_},
                        {"peer", p.cluster->peer_addr()},
                        {"version", kVersion},
                        {"role", p.cluster->role()},
                        {"starts", starts}});
  return ok_status();
}

void Agent::wait_for_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    kLog.info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    break;
  }
  // Shut down on another thread so that a second signal can still force
  // an exit if something hangs.
  std::atomic<bool> done{false};
  std::thread stopper([this, &done] {
    shutdown();
    done = true;
  });
  timespec tick{0, 100 * 1000 * 1000};
  while (!done) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      kLog.warn("second signal during shutdown: exiting now");
      std::_Exit(1);
    }
  }
  stopper.join();
  kLog.info("stopped");
}

void Agent::shutdown() {
  shutting_down_ = true;
  ready_ = false;
  Parts& p = *parts_;
  Duration grace;
  {
    std::lock_guard lock(config_mu_);
    grace = config_.shutdown_timeout;
  }
  p.services.stop_all(grace);
  if (p.state) {
    if (Status s = p.state->checkpoint(); !s.ok()) {
      kLog.warn("state checkpoint failed", {{"error", s.error().message}});
    }
  }
}

void Agent::reload() {
  if (Status s = log::reopen(); !s.ok()) {
    kLog.error("log file re-open failed", {{"error", s.error().message}});
  }
  if (cli_.config_path.empty()) {
    kLog.info("SIGHUP: no --config file to re-read; log file re-opened");
    return;
  }
  Result<config::AgentConfig> next = cli_.resolve();
  if (!next.ok()) {
    kLog.error("config reload failed; keeping the running config",
               {{"file", cli_.config_path}, {"error", next.error().message}});
    return;
  }
  std::lock_guard lock(config_mu_);
  std::vector<config::Change> changes = config::diff(config_, next.value());
  std::vector<std::string> applied;
  for (const config::Change& c : changes) {
    if (!c.live) {
      kLog.warn(
          "config change needs a restart to take effect",
          {{"key", c.key}, {"running", c.old_value}, {"file", c.new_value}});
      continue;
    }
    // The live keys (config::KeyInfo::live); log.level is the only one.
    if (c.key == "log.level") {
      log::set_level(next->log.level);
      config_.log.level = next->log.level;
    }
    applied.push_back(c.key + "=" + c.new_value);
  }
  kLog.info("config reloaded",
            {{"file", cli_.config_path},
             {"applied", applied.empty() ? "none" : join(applied, ",")},
             {"needs_restart",
              static_cast<std::int64_t>(changes.size() - applied.size())}});
}

}  // namespace nw::agent
