#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/state/migrations.h"
#include "common/base/result.h"
#include "common/base/time.h"

namespace nw::state {

// A value bound to a `?` parameter or read from a column: NULL, INTEGER,
// REAL or TEXT. Strings are bound as TEXT byte for byte (no UTF-8 check),
// and BLOB columns read back as strings, so binary data round-trips.
// Read with std::get_if: `if (auto* s = std::get_if<std::string>(&row[0]))`.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;
using Row = std::vector<Value>;
using Params = std::vector<Value>;

class StateDb;
namespace detail {
struct Connection;  // the SQLite connection, in state_db.cc
}  // namespace detail

// The statements available inside StateDb::transaction(). It refers to the
// database only while the transaction callback runs; do not keep it.
// Errors are those of StateDb::exec and StateDb::query.
class Tx {
 public:
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

  // Runs `sql`: with params, one statement whose `?`s they fill; without,
  // one or more statements separated by ';'. Rows it returns are ignored.
  Status exec(std::string_view sql, const Params& params = {});
  // All rows of one statement.
  Result<std::vector<Row>> query(std::string_view sql,
                                 const Params& params = {});
  // The first row, or nullopt if there is none.
  Result<std::optional<Row>> query_one(std::string_view sql,
                                       const Params& params = {});
  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  // The rowid of the last INSERT.
  std::int64_t last_insert_rowid() const;

 private:
  friend class StateDb;
  friend struct detail::Connection;
  explicit Tx(detail::Connection& conn) : conn_(conn) {}
  detail::Connection& conn_;
};

// The agent's local SQLite database, <data-dir>/state.db: metadata now; job
// run history, captured output and the audit log as those subsystems arrive
// (each adds its tables as a migration in migrations.cc).
//
// On-disk format: an SQLite 3 database in WAL mode (state.db plus
// state.db-wal and state.db-shm while open). The schema is the migrations
// in migrations.cc; schema_migrations(version, description, applied_at)
// records which are applied. Migration 1 creates meta(key, value).
//
// Crash behaviour: synchronous=NORMAL in WAL mode. A crash of the agent
// loses nothing committed. A power loss or kernel crash may roll back the
// last transactions committed before it (those not yet checkpointed or
// synced), never corrupt the database. That is the right trade here:
// everything in this file is local bookkeeping (history, outputs, audit)
// whose last fraction of a second is worth less than an fsync on every
// commit; what must survive a power loss is replicated through Raft, not
// stored here. A migration runs in one transaction, so a crash mid-way
// leaves the previous version, and the next start applies it again.
//
// Lifecycle: open() (creates the file, applies pending migrations),
// use, checkpoint() at shutdown, destroy. Not movable: threads keep
// references to it.
// Threads: every method may be called from any thread; one mutex
// serializes them (one connection, so SQLite never sees two writers of
// ours). Inside transaction() use only the Tx: calling the StateDb from
// its own callback is a bug (NW_ASSERT, rather than a deadlock).
//
// Errors of every statement: corruption if SQLite finds the file is not a
// database or is damaged (hint: move it aside or restore it); conflict for
// a violated constraint (UNIQUE, FOREIGN KEY, ...); io_error for the rest
// (disk full, permissions, busy, bad SQL). The message names the database
// and the statement.
class StateDb {
 public:
  // How long a statement waits for a lock held by another connection (an
  // offline tool, sqlite3 in a shell) before failing with io_error.
  static constexpr int kBusyTimeoutMs = 5000;

  // Opens (or creates) the database at `path` and applies the migrations
  // it lacks. Besides the errors above: failed_precondition if the
  // database has a schema version newer than this code knows.
  static Result<std::unique_ptr<StateDb>> open(const std::string& path);
  // The same with another migration list (tests).
  // REQUIRES: versions 1, 2, 3, ... in order (NW_ASSERT).
  static Result<std::unique_ptr<StateDb>> open(
      const std::string& path, std::span<const Migration> migrations);

  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  const std::string& path() const;
  // The newest applied migration (0 for none).
  int schema_version() const;

  // meta(key, value): small named values (last_start, counters, ...).
  Result<std::optional<std::string>> get_meta(std::string_view key);
  Status set_meta(std::string_view key, std::string_view value);
  // Adds one to the integer stored under `key` (0 if absent) in one
  // transaction and returns the new value. corruption if the key holds
  // something that is not an integer.
  Result<std::int64_t> increment_counter(std::string_view key);

  // Copies the WAL into the database and truncates it (done at shutdown,
  // so the directory holds one self-contained file). unavailable if a
  // reader kept it from completing.
  Status checkpoint();

  // As Tx::exec / Tx::query / Tx::query_one, each in its own implicit
  // transaction.
  Status exec(std::string_view sql, const Params& params = {});
  Result<std::vector<Row>> query(std::string_view sql,
                                 const Params& params = {});
  Result<std::optional<Row>> query_one(std::string_view sql,
                                       const Params& params = {});

  // Runs fn in one write transaction (BEGIN IMMEDIATE): committed if fn
  // returns ok, rolled back if it returns an error (which is returned).
  Status transaction(const std::function<Status(Tx&)>& fn);

 private:
  explicit StateDb(std::unique_ptr<detail::Connection> conn);

  std::unique_ptr<detail::Connection> conn_;
};

// What the agent records on every start, in one transaction: meta
// "last_start" = `now` (RFC 3339) and "starts" incremented. Returns the new
// number of starts. Errors as StateDb::increment_counter.
Result<std::int64_t> record_start(StateDb& db, WallTime now);

}  // namespace nw::state
