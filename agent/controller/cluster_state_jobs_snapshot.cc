#include <map>
#include <string>
#include <utility>

#include "agent/controller/cluster_state.h"
#include "agent/controller/wire.h"
#include "common/config/job_spec.h"

// The sections snapshot version 3 appends to ClusterState's snapshot: the
// jobs with their missed slots, the runs and the locks
// (docs/formats/controller-commands.md, "Snapshot layout").
namespace nw::controller {
namespace {

Error corrupt(std::string_view reason) {
  return Error(Code::corruption, "controller snapshot: " + std::string(reason),
               {}, "controller");
}

bool read_bool(raft::ByteReader* r, bool* v) {
  std::uint8_t b = 0;
  if (!r->u8(&b) || b > 1) return false;
  *v = b == 1;
  return true;
}

}  // namespace

void ClusterState::snapshot_jobs(std::string* out) const {
  raft::put_u32(out, static_cast<std::uint32_t>(jobs_.size()));
  for (const auto& [name, j] : jobs_) {
    wire::put_string(out, j.name);
    wire::put_string(out, j.spec_json);
    raft::put_u64(out, j.version);
    raft::put_u8(out, j.enabled ? 1 : 0);
    wire::put_i64(out, j.last_slot_ms);
    wire::put_i64(out, j.changed_ms);
    raft::put_u64(out, j.created_index.value());
    const MissedSlots& slots = missed_.at(name);
    raft::put_u32(out, static_cast<std::uint32_t>(slots.size()));
    for (const MissedSlot& m : slots) {
      wire::put_i64(out, m.slot_ms);
      wire::put_string(out, m.reason);
    }
  }
  raft::put_u32(out, static_cast<std::uint32_t>(runs_.size()));
  for (const auto& [id, r] : runs_) {
    raft::put_u64(out, r.run_id);
    wire::put_string(out, r.job);
    wire::put_i64(out, r.slot_ms);
    raft::put_u32(out, r.attempt);
    wire::put_string(out, r.agent);
    raft::put_u32(out, r.shard_index);
    raft::put_u32(out, r.shard_count);
    raft::put_u64(out, r.fencing_token);
    raft::put_u8(out, static_cast<std::uint8_t>(r.state));
    raft::put_u32(out, static_cast<std::uint32_t>(r.exit_code));
    wire::put_string(out, r.reason);
    wire::put_i64(out, r.created_ms);
    wire::put_i64(out, r.started_ms);
    wire::put_i64(out, r.ended_ms);
    wire::put_i64(out, r.lease_until_ms);
    raft::put_u8(out, r.manual ? 1 : 0);
  }
  raft::put_u32(out, static_cast<std::uint32_t>(locks_.size()));
  for (const auto& [name, l] : locks_) {
    wire::put_string(out, l.name);
    wire::put_string(out, l.holder);
    raft::put_u64(out, l.token);
    wire::put_i64(out, l.deadline_ms);
  }
}

Status ClusterState::restore_jobs(raft::ByteReader* r) {
  jobs_version_ = next_jobs_version();
  // A restored state cannot say what finished before it: readers rescan.
  finished_seq_ = next_jobs_version();
  finished_log_.clear();
  const std::uint64_t applied = applied_index_.value();
  std::uint32_t count = 0;
  if (!r->u32(&count)) return corrupt("truncated in job count");
  // A job takes at least 4 + 4 + 8 + 1 + 8 + 8 + 4 = 37 bytes.
  if (count > r->remaining() / 37) {
    return corrupt("truncated in jobs: count " + std::to_string(count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    JobRecord j;
    std::uint32_t n = 0;
    const std::string where = "job " + std::to_string(i) + ": ";
    if (!wire::read_string(r, &j.name) || !wire::read_string(r, &j.spec_json) ||
        !r->u64(&j.version) || !read_bool(r, &j.enabled) ||
        !wire::read_i64(r, &j.last_slot_ms) ||
        !wire::read_i64(r, &j.changed_ms) || !r->strong(&j.created_index) ||
        !r->u32(&n)) {
      return corrupt(where + "truncated");
    }
    if (!config::check_job_name(j.name).ok()) {
      return corrupt(where + "invalid name");
    }
    if (!jobs_.empty() && !(jobs_.rbegin()->first < j.name)) {
      return corrupt(where + "names not strictly ascending");
    }
    if (j.version == 0 || j.created_index.value() == 0 ||
        j.created_index.value() > applied) {
      return corrupt(where + "version 0 or created index out of range");
    }
    // A missed slot takes at least 8 + 4 bytes.
    if (n > kMaxMissedPerJob || n > r->remaining() / 12) {
      return corrupt(where + "missed count " + std::to_string(n));
    }
    MissedSlots slots;
    for (std::uint32_t k = 0; k < n; ++k) {
      MissedSlot m;
      if (!wire::read_i64(r, &m.slot_ms) || !wire::read_string(r, &m.reason)) {
        return corrupt(where + "truncated in missed slot " + std::to_string(k));
      }
      if (m.reason.empty()) return corrupt(where + "empty missed reason");
      slots.push_back(std::move(m));
    }
    missed_.emplace_hint(missed_.end(), j.name, std::move(slots));
    std::string key = j.name;
    jobs_.emplace_hint(jobs_.end(), std::move(key), std::move(j));
  }
  if (!r->u32(&count)) return corrupt("truncated in run count");
  // A run takes at least 8 + 4 + 8 + 4 + 4 + 4 + 4 + 8 + 1 + 4 + 4 + 4 * 8
  // = 85 bytes.
  if (count > r->remaining() / 85) {
    return corrupt("truncated in runs: count " + std::to_string(count));
  }
  std::map<std::string, std::size_t> finished;
  for (std::uint32_t i = 0; i < count; ++i) {
    RunRecord run;
    std::uint32_t exit_code = 0;
    std::string why;
    const std::string where = "run " + std::to_string(i) + ": ";
    if (!r->u64(&run.run_id) || !wire::read_string(r, &run.job) ||
        !wire::read_i64(r, &run.slot_ms) || !r->u32(&run.attempt) ||
        !wire::read_string(r, &run.agent) || !r->u32(&run.shard_index) ||
        !r->u32(&run.shard_count) || !r->u64(&run.fencing_token)) {
      return corrupt(where + "truncated");
    }
    if (!wire::read_run_state(r, &run.state, &why)) return corrupt(where + why);
    if (!r->u32(&exit_code) || !wire::read_string(r, &run.reason) ||
        !wire::read_i64(r, &run.created_ms) ||
        !wire::read_i64(r, &run.started_ms) ||
        !wire::read_i64(r, &run.ended_ms) ||
        !wire::read_i64(r, &run.lease_until_ms)) {
      return corrupt(where + "truncated");
    }
    std::uint8_t manual = 0;
    if (!r->u8(&manual)) return corrupt(where + "truncated");
    if (manual > 1) return corrupt(where + "manual flag out of range");
    run.manual = manual == 1;
    run.exit_code = static_cast<std::int32_t>(exit_code);
    if (run.run_id == 0 || run.run_id > applied ||
        run.fencing_token != run.run_id) {
      return corrupt(where + "run id or fencing token out of range");
    }
    if (!runs_.empty() && !(runs_.rbegin()->first < run.run_id)) {
      return corrupt(where + "ids not strictly ascending");
    }
    if (run.attempt == 0 || run.shard_count == 0 ||
        run.shard_index >= run.shard_count) {
      return corrupt(where + "attempt or shard out of range");
    }
    if (run.finished()) {
      if (jobs_.count(run.job) == 0) {
        return corrupt(where + "finished run of an unknown job");
      }
      if (++finished[run.job] > kMaxFinishedRunsPerJob) {
        return corrupt(where + "too many finished runs of its job");
      }
    }
    if (run_keys_.count(std::make_tuple(run.job, run.slot_ms, run.shard_index,
                                        run.attempt)) != 0) {
      return corrupt(where + "a second run of the same slot and attempt");
    }
    insert_run(std::move(run));
  }
  if (!r->u32(&count)) return corrupt("truncated in lock count");
  // A lock takes at least 4 + 4 + 8 + 8 bytes.
  if (count > r->remaining() / 24) {
    return corrupt("truncated in locks: count " + std::to_string(count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    LockRecord l;
    const std::string where = "lock " + std::to_string(i) + ": ";
    if (!wire::read_string(r, &l.name) || !wire::read_string(r, &l.holder) ||
        !r->u64(&l.token) || !wire::read_i64(r, &l.deadline_ms)) {
      return corrupt(where + "truncated");
    }
    if (!valid_name(l.name)) return corrupt(where + "invalid name");
    if (!locks_.empty() && !(locks_.rbegin()->first < l.name)) {
      return corrupt(where + "names not strictly ascending");
    }
    if (l.holder.empty() || l.token == 0 || l.token > applied) {
      return corrupt(where + "empty holder or token out of range");
    }
    std::string key = l.name;
    locks_.emplace_hint(locks_.end(), std::move(key), std::move(l));
  }
  return ok_status();
}

}  // namespace nw::controller
