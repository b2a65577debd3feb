#include "agent/jobs/output_store.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>
#include <vector>

#include "common/base/assert.h"

namespace nw::jobs {
namespace {

constexpr std::string_view kDomain = "jobs";

// How many of the oldest rows prune_total() reads per query. One put
// usually frees one or two runs; a lowered limit frees many, 64 at a time.
constexpr std::int64_t kPruneBatch = 64;

const std::int64_t* int_at(const state::Row& row, std::size_t i) {
  return std::get_if<std::int64_t>(&row.at(i));
}

const std::string* string_at(const state::Row& row, std::size_t i) {
  return std::get_if<std::string>(&row.at(i));
}

Error corrupt(std::string_view what) {
  return Error(Code::corruption, "job output store: " + std::string(what),
               "the run_output table of state.db was changed by hand or is "
               "damaged; delete the run's row or move state.db aside",
               kDomain);
}

// Deletes all but the newest runs_per_job runs of `job`. The cut is found
// by walking run_output_job backwards, runs_per_job entries at most.
Status prune_job(state::Tx& tx, const std::string& job,
                 std::size_t runs_per_job) {
  NW_ASSIGN_OR_RETURN(
      std::optional<state::Row> cut,
      tx.query_one("SELECT run_id FROM run_output WHERE job = ? "
                   "ORDER BY run_id DESC LIMIT 1 OFFSET ?",
                   {job, static_cast<std::int64_t>(runs_per_job)}));
  if (!cut) return ok_status();
  const std::int64_t* run_id = int_at(*cut, 0);
  if (run_id == nullptr) return corrupt("a run_id is not an integer");
  return tx.exec("DELETE FROM run_output WHERE job = ? AND run_id <= ?",
                 {job, *run_id});
}

// Deletes the oldest runs (smallest run ids), except `keep`, until the
// kept bytes are within max_total_bytes. Reads only the small columns of
// the first rows of the primary key.
Status prune_total(state::Tx& tx, std::uint64_t max_total_bytes,
                   std::int64_t keep) {
  NW_ASSIGN_OR_RETURN(
      std::optional<state::Row> row,
      tx.query_one("SELECT bytes FROM run_output_bytes WHERE id = 1"));
  const std::int64_t* bytes = row ? int_at(*row, 0) : nullptr;
  if (bytes == nullptr || *bytes < 0) {
    return corrupt("run_output_bytes does not hold the byte count");
  }
  const auto total = static_cast<std::uint64_t>(*bytes);
  if (total <= max_total_bytes) return ok_status();
  const std::uint64_t excess = total - max_total_bytes;

  std::uint64_t freed = 0;
  std::optional<std::int64_t> cutoff;  // delete run ids <= cutoff
  std::int64_t after = std::numeric_limits<std::int64_t>::min();
  while (freed < excess) {
    NW_ASSIGN_OR_RETURN(
        std::vector<state::Row> rows,
        tx.query("SELECT run_id, kept_bytes FROM run_output WHERE run_id > ? "
                 "ORDER BY run_id LIMIT ?",
                 {after, kPruneBatch}));
    if (rows.empty()) break;
    for (const state::Row& r : rows) {
      const std::int64_t* run_id = int_at(r, 0);
      const std::int64_t* kept = int_at(r, 1);
      if (run_id == nullptr || kept == nullptr || *kept < 0) {
        return corrupt("a row has no valid run_id or kept_bytes");
      }
      after = *run_id;
      if (*run_id == keep) continue;
      freed += static_cast<std::uint64_t>(*kept);
      cutoff = *run_id;
      if (freed >= excess) break;
    }
  }
  if (!cutoff) return ok_status();
  return tx.exec("DELETE FROM run_output WHERE run_id <= ? AND run_id != ?",
                 {*cutoff, keep});
}

}  // namespace

OutputSlice slice_output(std::string_view head, std::string_view tail,
                         std::uint64_t total, std::uint64_t from,
                         std::size_t max_bytes) {
  NW_ASSERT(head.size() + tail.size() <= total,
            "slice_output: head and tail overlap or exceed the total");
  OutputSlice s;
  s.total_bytes = total;
  if (from >= total) {
    s.offset = s.next_offset = from;
    return s;
  }
  const std::uint64_t head_end = head.size();
  const std::uint64_t tail_begin = total - tail.size();
  if (from < head_end) {
    s.offset = from;
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>(max_bytes, head_end - from));
    s.data.assign(head.substr(static_cast<std::size_t>(from), n));
    // Without an elided middle the tail goes on where the head ends.
    if (head_end == tail_begin && n < max_bytes) {
      s.data.append(tail.substr(0, max_bytes - n));
    }
  } else {
    const std::uint64_t start = std::max(from, tail_begin);
    s.offset = start;
    s.data.assign(
        tail.substr(static_cast<std::size_t>(start - tail_begin), max_bytes));
  }
  s.next_offset = s.offset + s.data.size();
  return s;
}

OutputSlice slice_output(const StoredOutput& out, std::uint64_t from,
                         std::size_t max_bytes) {
  return slice_output(out.head, out.tail, out.total_bytes, from, max_bytes);
}

StoredOutput stored_output(std::uint64_t run_id, std::string job,
                           const CapturedOutput& output, WallTime ended_at) {
  StoredOutput out;
  out.run_id = run_id;
  out.job = std::move(job);
  out.head = output.head();
  out.tail = output.tail();
  out.total_bytes = output.total_bytes();
  out.elided_bytes = output.elided_bytes();
  out.ended_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     ended_at.time_since_epoch())
                     .count();
  return out;
}

// ------------------------------------------------------------ LiveOutput

LiveOutput::LiveOutput(std::size_t limit) : captured_(limit) {}

void LiveOutput::append(std::string_view chunk) {
  if (chunk.empty()) return;
  {
    std::lock_guard lock(mu_);
    captured_.append(chunk);
  }
  changed_.notify_all();
}

void LiveOutput::finish() {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  changed_.notify_all();
}

bool LiveOutput::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

OutputSlice LiveOutput::read(std::uint64_t from, std::size_t max_bytes,
                             MonoTime deadline) const {
  std::unique_lock lock(mu_);
  auto ready = [&] { return finished_ || captured_.total_bytes() > from; };
  if (!ready()) {
    ++waiting_;
    changed_.wait_until(lock, deadline, ready);
    --waiting_;
  }
  const std::string& head = captured_.head();
  // tail() is a copy (of at most limit/2 bytes); skip it when the slice
  // cannot reach the tail: it ends inside the head, or at the head's end
  // because a middle was elided, or there is nothing at `from` yet.
  const bool needs_tail =
      from < captured_.total_bytes() &&
      (from >= head.size() ||
       (max_bytes > head.size() - from && !captured_.truncated()));
  if (!needs_tail) {
    // Equal to slicing with the real tail: see the condition above.
    return slice_output(head, {}, captured_.total_bytes(), from, max_bytes);
  }
  const std::string tail = captured_.tail();
  return slice_output(head, tail, captured_.total_bytes(), from, max_bytes);
}

CapturedOutput LiveOutput::snapshot() const {
  std::lock_guard lock(mu_);
  return captured_;
}

std::size_t LiveOutput::waiting_readers() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

// ----------------------------------------------------------- OutputStore

OutputStore::OutputStore(state::StateDb& db, Limits limits)
    : db_(db), limits_(limits) {
  NW_ASSERT(limits_.runs_per_job >= 1,
            "OutputStore: runs_per_job must be at least 1");
}

Status OutputStore::put(const StoredOutput& out) {
  constexpr auto kMax =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const std::uint64_t kept = out.head.size() + out.tail.size();
  if (out.run_id > kMax || out.total_bytes > kMax) {
    return Error(Code::invalid_argument,
                 "storing the output of run " + std::to_string(out.run_id) +
                     ": run id or byte count out of range",
                 {}, kDomain);
  }
  if (kept > out.total_bytes || out.total_bytes - kept != out.elided_bytes) {
    return Error(Code::invalid_argument,
                 "storing the output of run " + std::to_string(out.run_id) +
                     ": head (" + std::to_string(out.head.size()) +
                     ") + tail (" + std::to_string(out.tail.size()) +
                     ") + elided (" + std::to_string(out.elided_bytes) +
                     ") bytes is not the total (" +
                     std::to_string(out.total_bytes) + ")",
                 {}, kDomain);
  }
  const auto run_id = static_cast<std::int64_t>(out.run_id);
  return db_.transaction([&](state::Tx& tx) -> Status {
    // An upsert, not INSERT OR REPLACE: REPLACE deletes the old row
    // without firing the delete trigger that keeps run_output_bytes.
    NW_RETURN_IF_ERROR(tx.exec(
        "INSERT INTO run_output(run_id, job, ended_ms, total_bytes, "
        "elided_bytes, kept_bytes, head, tail) "
        "VALUES (?, ?, ?, ?, ?, ?, CAST(? AS BLOB), CAST(? AS BLOB)) "
        "ON CONFLICT(run_id) DO UPDATE SET job = excluded.job, "
        "ended_ms = excluded.ended_ms, total_bytes = excluded.total_bytes, "
        "elided_bytes = excluded.elided_bytes, "
        "kept_bytes = excluded.kept_bytes, head = excluded.head, "
        "tail = excluded.tail",
        {run_id, out.job, out.ended_ms,
         static_cast<std::int64_t>(out.total_bytes),
         static_cast<std::int64_t>(out.elided_bytes),
         static_cast<std::int64_t>(kept), out.head, out.tail}));
    NW_RETURN_IF_ERROR(prune_job(tx, out.job, limits_.runs_per_job));
    return prune_total(tx, limits_.max_total_bytes, run_id);
  });
}

Result<std::optional<StoredOutput>> OutputStore::get(std::uint64_t run_id) {
  if (run_id >
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::optional<StoredOutput>();
  }
  NW_ASSIGN_OR_RETURN(
      std::optional<state::Row> row,
      db_.query_one("SELECT job, head, tail, total_bytes, elided_bytes, "
                    "ended_ms FROM run_output WHERE run_id = ?",
                    {static_cast<std::int64_t>(run_id)}));
  if (!row) return std::optional<StoredOutput>();
  const std::string* job = string_at(*row, 0);
  const std::string* head = string_at(*row, 1);
  const std::string* tail = string_at(*row, 2);
  const std::int64_t* total = int_at(*row, 3);
  const std::int64_t* elided = int_at(*row, 4);
  const std::int64_t* ended = int_at(*row, 5);
  const std::string what = "run " + std::to_string(run_id);
  if (job == nullptr || head == nullptr || tail == nullptr ||
      total == nullptr || elided == nullptr || ended == nullptr || *total < 0 ||
      *elided < 0) {
    return corrupt(what + ": a column has the wrong type");
  }
  StoredOutput out;
  out.run_id = run_id;
  out.job = *job;
  out.head = *head;
  out.tail = *tail;
  out.total_bytes = static_cast<std::uint64_t>(*total);
  out.elided_bytes = static_cast<std::uint64_t>(*elided);
  out.ended_ms = *ended;
  const std::uint64_t kept = out.head.size() + out.tail.size();
  if (kept > out.total_bytes || out.total_bytes - kept != out.elided_bytes) {
    return corrupt(what + ": head + tail + elided bytes is not the total");
  }
  return std::optional<StoredOutput>(std::move(out));
}

Result<std::uint64_t> OutputStore::kept_bytes() {
  NW_ASSIGN_OR_RETURN(
      std::optional<state::Row> row,
      db_.query_one("SELECT bytes FROM run_output_bytes WHERE id = 1"));
  const std::int64_t* bytes = row ? int_at(*row, 0) : nullptr;
  if (bytes == nullptr || *bytes < 0) {
    return corrupt("run_output_bytes does not hold the byte count");
  }
  return static_cast<std::uint64_t>(*bytes);
}

}  // namespace nw::jobs
