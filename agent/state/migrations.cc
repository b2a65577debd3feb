#include "agent/state/migrations.h"

#include <array>

namespace nw::state {
namespace {

// Append only. PRAGMAs that cannot run inside a transaction (journal_mode,
// foreign_keys) belong in StateDb::open, not here.
constexpr std::array kMigrations{
    Migration{1, "meta key/value table",
              "CREATE TABLE meta ("
              "  key TEXT PRIMARY KEY,"
              "  value TEXT NOT NULL"
              ") WITHOUT ROWID;"},
    // agent/jobs/output_store.h: the output of finished job runs. The
    // small columns come before the blobs (pruning reads them without the
    // blobs' overflow pages); run_output_bytes is SUM(kept_bytes), kept by
    // the triggers so that a put never sums the table.
    Migration{2, "run_output: output of finished job runs",
              "CREATE TABLE run_output ("
              "  run_id INTEGER PRIMARY KEY,"
              "  job TEXT NOT NULL,"
              "  ended_ms INTEGER NOT NULL,"
              "  total_bytes INTEGER NOT NULL,"
              "  elided_bytes INTEGER NOT NULL,"
              "  kept_bytes INTEGER NOT NULL,"
              "  head BLOB NOT NULL,"
              "  tail BLOB NOT NULL"
              ");"
              "CREATE INDEX run_output_job ON run_output(job, run_id);"
              "CREATE TABLE run_output_bytes ("
              "  id INTEGER PRIMARY KEY CHECK (id = 1),"
              "  bytes INTEGER NOT NULL"
              ");"
              "INSERT INTO run_output_bytes(id, bytes) VALUES (1, 0);"
              "CREATE TRIGGER run_output_inserted AFTER INSERT ON run_output "
              "BEGIN"
              "  UPDATE run_output_bytes SET bytes = bytes + new.kept_bytes"
              "  WHERE id = 1;"
              " END;"
              "CREATE TRIGGER run_output_deleted AFTER DELETE ON run_output "
              "BEGIN"
              "  UPDATE run_output_bytes SET bytes = bytes - old.kept_bytes"
              "  WHERE id = 1;"
              " END;"
              "CREATE TRIGGER run_output_updated"
              "  AFTER UPDATE OF kept_bytes ON run_output "
              "BEGIN"
              "  UPDATE run_output_bytes"
              "  SET bytes = bytes - old.kept_bytes + new.kept_bytes"
              "  WHERE id = 1;"
              " END;"},
    // agent/jobs/runner.cc: runs whose process this agent started and
    // whose end it has not reported yet. After a crash, such a run is
    // left to its lease (marked lost, retried) instead of started twice.
    Migration{3, "run_started: job runs started and not yet reported",
              "CREATE TABLE run_started ("
              "  run_id INTEGER PRIMARY KEY,"
              "  job TEXT NOT NULL,"
              "  started_ms INTEGER NOT NULL"
              ");"},
};

}  // namespace

std::span<const Migration> state_migrations() { return kMigrations; }

}  // namespace nw::state
