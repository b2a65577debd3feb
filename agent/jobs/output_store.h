#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agent/jobs/process_runner.h"
#include "agent/state/state_db.h"
#include "common/base/result.h"
#include "common/base/time.h"

namespace nw::jobs {

// A slice of a run's output stream (stdout+stderr as written), as
// `GET /v1/runs/{id}/logs` answers it (NW-Offset, NW-Next-Offset,
// NW-Total-Bytes).
struct OutputSlice {
  std::uint64_t offset = 0;       // stream offset of data[0]
  std::string data;               // stream bytes [offset, offset + size)
  std::uint64_t next_offset = 0;  // where the next read should start
  std::uint64_t total_bytes = 0;  // bytes the run wrote so far
};

// The bytes of the stream from `from` on, at most `max_bytes`, given the
// kept head (stream bytes [0, head.size())) and tail (stream bytes
// [total - tail.size(), total)). The data is always contiguous in the
// stream: a slice that starts in the head ends at the head's end when a
// middle was elided, and the next read jumps over it.
//
// - `from` in the head or the tail: data from there; next_offset is the
//   byte after the data.
// - `from` in the elided middle: data from the tail's first byte, so
//   offset > from says bytes were skipped.
// - `from` >= total: empty data and offset = next_offset = from. A reader
//   never goes backwards: an offset past the end is a position the stream
//   has not reached yet (LiveOutput::read waits for it), not an error to
//   clamp to total, which would hand the reader bytes it claims to have.
// - max_bytes = 0: empty data at the offset where data would start.
//
// REQUIRES: head.size() + tail.size() <= total (NW_ASSERT); CapturedOutput
// and OutputStore::get guarantee it.
OutputSlice slice_output(std::string_view head, std::string_view tail,
                         std::uint64_t total, std::uint64_t from,
                         std::size_t max_bytes);

// The output of one running run: a CapturedOutput (head + tail within the
// run's output_limit) behind a mutex, with readers that can wait for more
// (`nwctl job logs --follow`).
//
// Lifecycle: the runner makes one per run (shared_ptr, so a reader can
// hold it past the run's end), feeds append() from ProcessRunner's
// OutputCallback, calls finish() when run() returned, stores snapshot() in
// the OutputStore, and then drops it from its table of live runs.
// Threads: every method from any thread. append() holds the mutex only to
// copy the chunk into the ring (no allocation once the ring exists); a
// read() copies at most the tail (limit/2 bytes) under it.
class LiveOutput {
 public:
  explicit LiveOutput(std::size_t limit);
  LiveOutput(const LiveOutput&) = delete;
  LiveOutput& operator=(const LiveOutput&) = delete;

  // Adds a chunk of the stream and wakes waiting readers. Quick: called on
  // the run() thread, whose child blocks while it runs. Chunks appended
  // after finish() are still kept (finish() only wakes readers).
  void append(std::string_view chunk);
  // There will be no more output; wakes waiting readers. Idempotent.
  void finish();
  bool finished() const;

  // slice_output() of the output so far. Returns at once if there are
  // bytes at or after `from` (total_bytes > from) or finish() was called;
  // otherwise waits until one of those happens or `deadline` passes, and
  // then answers with what there is (an empty slice at `from` on timeout).
  OutputSlice read(std::uint64_t from, std::size_t max_bytes,
                   MonoTime deadline) const;

  // A copy of the captured output so far.
  CapturedOutput snapshot() const;

  // Readers blocked in read() right now (followers; and for tests, which
  // wait for a reader to block before they append).
  std::size_t waiting_readers() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // append() and finish()
  CapturedOutput captured_;                  // GUARDED_BY(mu_)
  bool finished_ = false;                    // GUARDED_BY(mu_)
  mutable std::size_t waiting_ = 0;          // GUARDED_BY(mu_)
};

// A finished run's output as stored in state.db.
struct StoredOutput {
  std::uint64_t run_id = 0;
  std::string job;
  std::string head;  // stream bytes [0, head.size())
  std::string tail;  // stream bytes [total_bytes - tail.size(), total_bytes)
  std::uint64_t total_bytes = 0;
  // total_bytes - head.size() - tail.size(): the middle that was dropped.
  std::uint64_t elided_bytes = 0;
  std::int64_t ended_ms = 0;  // the run's end, ms since the Unix epoch
};

// The StoredOutput of a run's captured output.
StoredOutput stored_output(std::uint64_t run_id, std::string job,
                           const CapturedOutput& output, WallTime ended_at);

// slice_output() of a stored run.
OutputSlice slice_output(const StoredOutput& out, std::uint64_t from,
                         std::size_t max_bytes);

// The run_output table of the agent's state.db (migration 2): the output of
// finished runs, put by the runner when a run ends and read by
// `nwctl job logs` (GET /v1/runs/{id}/logs) on the agent that ran it.
//
// On-disk format (docs/formats/data-dir.md, "state.db"):
//   run_output(run_id INTEGER PRIMARY KEY, job TEXT, ended_ms,
//              total_bytes, elided_bytes, kept_bytes, head BLOB, tail BLOB)
//   index run_output_job(job, run_id)
//   run_output_bytes(id = 1, bytes): SUM(kept_bytes), kept by triggers
// head and tail are stored as BLOBs (CAST from the bound bytes), so any
// bytes round-trip exactly, NULs and invalid UTF-8 included. The small
// columns come before the blobs so that pruning reads them without
// touching the blobs' overflow pages.
//
// Retention, applied by put() in the same transaction: at most
// runs_per_job runs per job (the smallest run ids go first; run ids grow
// with time), then at most max_total_bytes of head+tail in all (the
// smallest run ids of any job go first). The run just put is never pruned
// by the byte limit, so the newest run's output is always there even when
// it alone exceeds the limit. Each put costs a few indexed lookups whatever
// the table's size: the per-job cut is found through run_output_job, the
// total is one row maintained by triggers, and the oldest rows are the
// first of the primary key. Freed pages are reused by later puts; the file
// does not shrink.
//
// Crash behaviour: that of StateDb (a put is one transaction; a power loss
// may lose the last puts, never half of one).
//
// Lifecycle: a cheap handle made over an open StateDb, which must outlive
// it. Threads: any; StateDb serializes the statements.
class OutputStore {
 public:
  struct Limits {
    std::size_t runs_per_job = 50;
    std::uint64_t max_total_bytes = 256ULL << 20;
  };

  // REQUIRES: limits.runs_per_job >= 1 (NW_ASSERT); db has migration 2.
  OutputStore(state::StateDb& db, Limits limits);

  // Stores a run's output (replacing what run_id had), then prunes.
  // Errors: invalid_argument if head + tail + elided_bytes != total_bytes
  // or run_id does not fit in 63 bits; those of StateDb (io_error,
  // corruption).
  Status put(const StoredOutput& out);

  // The stored output of run_id, or nullopt if this agent has none (never
  // ran it, or pruned). Errors: corruption if the row is inconsistent;
  // those of StateDb.
  Result<std::optional<StoredOutput>> get(std::uint64_t run_id);

  // Bytes of head+tail stored in all (what max_total_bytes bounds).
  Result<std::uint64_t> kept_bytes();

 private:
  state::StateDb& db_;
  const Limits limits_;
};

}  // namespace nw::jobs
