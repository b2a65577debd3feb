#include <algorithm>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "agent/controller/cluster_state.h"
#include "common/config/job_codec.h"
#include "common/config/job_spec.h"

// ClusterState's jobs, runs and missed slots: the apply cases of put_job ..
// record_missed and their reads. Every time comes from the command.
namespace nw::controller {
namespace {

Error rejected(Code code, std::string message, std::string hint = {}) {
  return Error(code, std::move(message), std::move(hint), "controller");
}

// `s` for a message: names come from commands and may be long or binary.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (char ch : s.substr(0, kMax)) {
    const auto b = static_cast<unsigned char>(ch);
    out += (b >= 0x20 && b < 0x7f) ? ch : '?';
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

Error unknown_job(const std::string& what, std::string_view name) {
  return rejected(Code::not_found, what + ": no job " + printable(name),
                  "list the jobs with `nwctl job list`");
}

std::string run_name(std::uint64_t run_id) {
  return "run " + std::to_string(run_id);
}

}  // namespace

std::uint64_t next_jobs_version() {
  // Process-wide, so a restored state never repeats a version a reader saw
  // in the state it replaced.
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

const JobRecord* ClusterState::job(std::string_view name) const {
  auto it = jobs_.find(std::string(name));
  return it == jobs_.end() ? nullptr : &it->second;
}

const RunRecord* ClusterState::run(std::uint64_t run_id) const {
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : &it->second;
}

std::vector<const RunRecord*> ClusterState::runs_of(
    std::string_view name) const {
  std::vector<const RunRecord*> out;
  auto it = job_runs_.find(std::string(name));
  if (it == job_runs_.end()) return out;
  for (std::uint64_t id : it->second) out.push_back(&runs_.at(id));
  return out;
}

std::vector<const RunRecord*> ClusterState::unfinished_runs() const {
  std::vector<const RunRecord*> out;
  out.reserve(unfinished_.size());
  for (std::uint64_t id : unfinished_) out.push_back(&runs_.at(id));
  return out;
}

void ClusterState::index_unfinished(const RunRecord& r) {
  unfinished_.insert(r.run_id);
  unfinished_by_agent_[r.agent].insert(r.run_id);
  ++unfinished_by_job_[r.job];
}

void ClusterState::unindex_unfinished(const RunRecord& r) {
  if (unfinished_.erase(r.run_id) == 0) return;
  if (auto a = unfinished_by_agent_.find(r.agent);
      a != unfinished_by_agent_.end()) {
    a->second.erase(r.run_id);
    if (a->second.empty()) unfinished_by_agent_.erase(a);
  }
  if (auto j = unfinished_by_job_.find(r.job); j != unfinished_by_job_.end()) {
    if (--j->second == 0) unfinished_by_job_.erase(j);
  }
}

const std::set<std::uint64_t>* ClusterState::unfinished_on(
    std::string_view agent) const {
  auto it = unfinished_by_agent_.find(agent);
  return it == unfinished_by_agent_.end() ? nullptr : &it->second;
}

std::size_t ClusterState::unfinished_of_job(std::string_view job) const {
  auto it = unfinished_by_job_.find(job);
  return it == unfinished_by_job_.end() ? 0 : it->second;
}

std::map<std::string, std::size_t, std::less<>>
ClusterState::unfinished_per_agent() const {
  std::map<std::string, std::size_t, std::less<>> out;
  for (const auto& [agent, ids] : unfinished_by_agent_) {
    out.emplace(agent, ids.size());
  }
  return out;
}

bool ClusterState::finished_after(std::uint64_t seq,
                                  std::vector<std::uint64_t>* ids) const {
  if (seq >= finished_seq_) return true;
  if (finished_log_.empty() || finished_log_.front().first > seq + 1) {
    return false;
  }
  for (auto it = finished_log_.rbegin();
       it != finished_log_.rend() && it->first > seq; ++it) {
    ids->push_back(it->second);
  }
  std::reverse(ids->end() - static_cast<std::ptrdiff_t>(finished_seq_ - seq),
               ids->end());
  return true;
}

const MissedSlots* ClusterState::missed(std::string_view name) const {
  auto it = missed_.find(std::string(name));
  return it == missed_.end() ? nullptr : &it->second;
}

void ClusterState::insert_run(RunRecord run) {
  const std::uint64_t id = run.run_id;
  run_keys_.emplace(
      std::make_tuple(run.job, run.slot_ms, run.shard_index, run.attempt), id);
  job_runs_[run.job].insert(id);
  if (!run.finished()) index_unfinished(run);
  runs_.emplace(id, std::move(run));
}

void ClusterState::erase_run(std::uint64_t run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  const RunRecord& r = it->second;
  run_keys_.erase(std::make_tuple(r.job, r.slot_ms, r.shard_index, r.attempt));
  auto ids = job_runs_.find(r.job);
  ids->second.erase(run_id);
  if (ids->second.empty()) job_runs_.erase(ids);
  if (unfinished_.count(run_id) != 0) unindex_unfinished(r);
  runs_.erase(it);
}

void ClusterState::prune_runs(const std::string& job) {
  auto ids = job_runs_.find(job);
  if (ids == job_runs_.end()) return;
  std::vector<std::uint64_t> finished;  // ascending: oldest first
  for (std::uint64_t id : ids->second) {
    if (runs_.at(id).finished()) finished.push_back(id);
  }
  if (finished.size() <= kMaxFinishedRunsPerJob) return;
  const std::size_t drop = finished.size() - kMaxFinishedRunsPerJob;
  for (std::size_t i = 0; i < drop; ++i) erase_run(finished[i]);
}

Status ClusterState::apply_one(const PutJob& c) {
  std::string what = "put job";
  if (Status name = config::check_job_name(c.name); !name.ok()) {
    return rejected(Code::invalid_argument, what + ": " + name.error().message);
  }
  what += " " + c.name;
  // The job rules live in common/config: the spec must decode (which
  // validates it) and be exactly its canonical encoding, so every replica
  // stores the same bytes and readers never see two spellings of a spec.
  Result<config::JobSpec> spec = config::decode_job(c.spec_json);
  if (!spec.ok()) {
    return rejected(Code::invalid_argument, what + ": " + spec.error().message,
                    "validate the job file with `nwctl job apply --dry-run`");
  }
  if (spec->name != c.name) {
    return rejected(Code::invalid_argument,
                    what + ": the spec names job " + printable(spec->name));
  }
  if (config::encode_job(*spec) != c.spec_json) {
    return rejected(Code::invalid_argument,
                    what + ": the spec is not in canonical form",
                    "send config::encode_job of the spec");
  }
  auto it = jobs_.find(c.name);
  if (it == jobs_.end()) {
    JobRecord j;
    j.name = c.name;
    j.spec_json = c.spec_json;
    j.version = 1;
    j.enabled = spec->enabled;
    j.changed_ms = c.now_ms;
    j.created_index = applied_index_;
    jobs_.emplace(c.name, std::move(j));
    missed_.emplace(c.name, MissedSlots{});
    jobs_version_ = next_jobs_version();
    changed_ = true;
    return ok_status();
  }
  JobRecord& j = it->second;
  if (j.spec_json == c.spec_json && j.enabled == spec->enabled) {
    return ok_status();
  }
  if (j.spec_json != c.spec_json) j.changed_ms = c.now_ms;
  j.spec_json = c.spec_json;
  j.enabled = spec->enabled;
  ++j.version;
  jobs_version_ = next_jobs_version();
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const DeleteJob& c) {
  auto it = jobs_.find(c.name);
  if (it == jobs_.end()) return unknown_job("delete job", c.name);
  jobs_.erase(it);
  missed_.erase(c.name);
  std::vector<std::uint64_t> finished;
  if (auto ids = job_runs_.find(c.name); ids != job_runs_.end()) {
    for (std::uint64_t id : ids->second) {
      if (runs_.at(id).finished()) finished.push_back(id);
    }
  }
  for (std::uint64_t id : finished) erase_run(id);
  jobs_version_ = next_jobs_version();
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const SetJobEnabled& c) {
  auto it = jobs_.find(c.name);
  if (it == jobs_.end()) {
    return unknown_job(c.enabled ? "resume job" : "pause job", c.name);
  }
  if (it->second.enabled != c.enabled) {
    it->second.enabled = c.enabled;
    jobs_version_ = next_jobs_version();
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const CreateRun& c) {
  auto it = jobs_.find(c.job);
  if (it == jobs_.end()) return unknown_job("create run", c.job);
  JobRecord& j = it->second;
  const std::string what = "create run of job " + c.job + " slot " +
                           std::to_string(c.slot_ms) + " shard " +
                           std::to_string(c.shard_index) + " attempt " +
                           std::to_string(c.attempt);
  if (c.attempt == 0) {
    return rejected(Code::invalid_argument, what + ": attempts start at 1");
  }
  if (c.shard_count == 0 || c.shard_index >= c.shard_count) {
    return rejected(Code::invalid_argument,
                    what + ": shard index not below shard count " +
                        std::to_string(c.shard_count));
  }
  // Hostile times must not overflow: the span is computed checked.
  std::int64_t lease_ms = 0;
  if (__builtin_sub_overflow(c.lease_until_ms, c.now_ms, &lease_ms) ||
      lease_ms <= 0 || lease_ms > kMaxLeaseMs) {
    return rejected(Code::invalid_argument,
                    what + ": lease must end after now and within 7 days");
  }
  if (!j.enabled && !c.manual) {
    return rejected(Code::failed_precondition, what + ": the job is paused",
                    "resume it with `nwctl job resume`");
  }
  const NodeRecord* agent = node(c.agent);
  if (agent == nullptr) {
    return rejected(Code::not_found,
                    what + ": unknown agent " + printable(c.agent));
  }
  if (agent->state == NodeRecord::State::left) {
    return rejected(Code::failed_precondition,
                    what + ": agent " + c.agent + " has left the cluster");
  }
  auto key = std::make_tuple(c.job, c.slot_ms, c.shard_index, c.attempt);
  if (auto dup = run_keys_.find(key); dup != run_keys_.end()) {
    return rejected(Code::conflict,
                    what + ": exists as " + run_name(dup->second));
  }
  if (c.attempt == 1) {
    // A slot before the last scheduled one was run or missed already,
    // though its run may have been dropped from the history since.
    if (!c.manual && j.last_slot_ms != 0 && c.slot_ms < j.last_slot_ms) {
      return rejected(Code::conflict, what + ": slots up to " +
                                          std::to_string(j.last_slot_ms) +
                                          " are already scheduled");
    }
  } else {
    auto prev = run_keys_.find(
        std::make_tuple(c.job, c.slot_ms, c.shard_index, c.attempt - 1));
    const RunRecord* p = prev == run_keys_.end() ? nullptr : run(prev->second);
    const bool retryable =
        p != nullptr && (p->state == RunRecord::State::failed ||
                         p->state == RunRecord::State::timed_out ||
                         p->state == RunRecord::State::lost);
    if (!retryable) {
      return rejected(Code::failed_precondition,
                      what + ": attempt " + std::to_string(c.attempt - 1) +
                          " is not a failed, timed out or lost run");
    }
  }
  RunRecord r;
  r.run_id = applied_index_.value();
  r.job = c.job;
  r.slot_ms = c.slot_ms;
  r.attempt = c.attempt;
  r.agent = c.agent;
  r.shard_index = c.shard_index;
  r.shard_count = c.shard_count;
  r.fencing_token = r.run_id;
  r.state = RunRecord::State::dispatched;
  r.created_ms = c.now_ms;
  r.lease_until_ms = c.lease_until_ms;
  r.manual = c.manual;
  if (!c.manual) j.last_slot_ms = std::max(j.last_slot_ms, c.slot_ms);
  insert_run(std::move(r));
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const UpdateRun& c) {
  using State = RunRecord::State;
  auto it = runs_.find(c.run_id);
  const std::string what =
      "update " + run_name(c.run_id) + " to " + std::string(to_string(c.state));
  if (it == runs_.end()) {
    return rejected(Code::not_found, what + ": no such run");
  }
  RunRecord& r = it->second;
  if (c.fencing_token != r.fencing_token) {
    return rejected(
        Code::failed_precondition,
        what + ": stale fencing token " + std::to_string(c.fencing_token),
        "this runner no longer owns the run; stop it");
  }
  if (r.finished()) {
    return rejected(Code::failed_precondition,
                    what + ": the run already finished as " +
                        std::string(to_string(r.state)));
  }
  if (c.reason.size() > kMaxReasonBytes) {
    return rejected(Code::invalid_argument, what + ": reason too long");
  }
  RunRecord updated = r;
  switch (c.state) {
    case State::dispatched:
      // A run waiting for a worker keeps its lease.
      if (r.state != State::dispatched) {
        return rejected(
            Code::invalid_argument,
            what + ": not a move from " + std::string(to_string(r.state)));
      }
      updated.lease_until_ms = c.lease_until_ms;
      break;
    case State::running:
      if (r.state == State::dispatched) updated.started_ms = c.started_ms;
      updated.state = State::running;
      updated.lease_until_ms = c.lease_until_ms;
      break;
    case State::succeeded:
    case State::failed:
    case State::timed_out:
    case State::cancelled:
      if (r.state == State::dispatched) updated.started_ms = c.started_ms;
      updated.state = c.state;
      updated.exit_code = c.exit_code;
      updated.reason = c.reason;
      updated.ended_ms = c.ended_ms;
      break;
    case State::lost:
      if (c.ended_ms < r.lease_until_ms) {
        return rejected(Code::failed_precondition,
                        what + ": its lease runs until " +
                            std::to_string(r.lease_until_ms));
      }
      updated.state = State::lost;
      updated.reason = c.reason;
      updated.ended_ms = c.ended_ms;
      break;
  }
  if (updated == r) return ok_status();
  r = std::move(updated);
  changed_ = true;
  if (r.finished()) {
    unindex_unfinished(r);
    finished_log_.emplace_back(++finished_seq_, c.run_id);
    if (finished_log_.size() > kFinishedLogSize) finished_log_.pop_front();
    // A deleted job keeps no history: its last runs go as they finish.
    std::string job = r.job;
    if (jobs_.count(job) == 0) {
      erase_run(c.run_id);
    } else {
      prune_runs(job);
    }
  }
  return ok_status();
}

Status ClusterState::apply_one(const ReportRuns& c) {
  for (const UpdateRun& u : c.updates) {
    // A refused update changed nothing (apply_one rejects before it
    // writes); the others stand.
    (void)apply_one(u);
  }
  return ok_status();
}

Status ClusterState::apply_one(const RecordMissed& c) {
  auto it = jobs_.find(c.job);
  if (it == jobs_.end()) return unknown_job("record missed slot", c.job);
  JobRecord& j = it->second;
  const std::string what =
      "record missed slot " + std::to_string(c.slot_ms) + " of job " + c.job;
  if (c.reason.empty() || c.reason.size() > kMaxReasonBytes) {
    return rejected(Code::invalid_argument,
                    what + ": reason empty or too long");
  }
  if (j.last_slot_ms != 0 && c.slot_ms < j.last_slot_ms) {
    return rejected(Code::conflict, what + ": slots up to " +
                                        std::to_string(j.last_slot_ms) +
                                        " are already scheduled");
  }
  MissedSlots& slots = missed_[c.job];
  slots.push_back(MissedSlot{c.slot_ms, c.reason});
  while (slots.size() > kMaxMissedPerJob) slots.pop_front();
  j.last_slot_ms = std::max(j.last_slot_ms, c.slot_ms);
  changed_ = true;
  return ok_status();
}

}  // namespace nw::controller
