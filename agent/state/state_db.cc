#include "agent/state/state_db.h"

#include <sqlite3.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>

#include "common/base/log.h"
#include "common/base/strings.h"

namespace nw::state {
namespace {

constexpr std::string_view kDomain = "state";
const log::Logger kLog("state");

// The statement, shortened for error messages.
std::string statement_context(std::string_view sql) {
  std::string s(trim(sql));
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (s.size() > 120) s = s.substr(0, 117) + "...";
  return "executing \"" + s + "\"";
}

Error sqlite_error(const std::string& path, std::string_view context,
                   const SQLite::Exception& e) {
  const int primary = e.getErrorCode() & 0xff;
  Code code = Code::io_error;
  std::string hint;
  switch (primary) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = Code::corruption;
      hint = "move " + path +
             " (with its -wal and -shm files) aside to start with empty "
             "local state, or restore it from a backup";
      break;
    case SQLITE_CONSTRAINT:
      code = Code::conflict;
      break;
    case SQLITE_FULL:
      hint = "free disk space on the data directory's file system";
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      hint = "check that the data directory and " + path +
             " are writable by this user";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      hint = "another process holds a lock on " + path +
             "; close it (an sqlite3 shell?) and retry";
      break;
    default:
      break;
  }
  return Error(
      code,
      "state database " + path + ": " + std::string(context) + ": " + e.what(),
      std::move(hint), kDomain);
}

Error other_error(const std::string& path, std::string_view context,
                  const std::exception& e) {
  return Error(
      Code::io_error,
      "state database " + path + ": " + std::string(context) + ": " + e.what(),
      {}, kDomain);
}

}  // namespace

namespace detail {

// One SQLite connection and the lock that serializes its users. The
// statement helpers assume the caller holds `mu` (StateDb's methods take
// it; Tx runs inside transaction(), which holds it).
struct Connection {
  std::string path;
  std::unique_ptr<SQLite::Database> db;
  std::mutex mu;
  // The thread holding mu, to catch re-entry from a transaction callback.
  std::atomic<std::thread::id> owner{};
  int schema_version = 0;  // set by open(), then only read

  // Runs f, converting SQLiteCpp's exceptions (which must not leave this
  // module) into errors with the statement as context.
  template <class F>
  auto guarded(std::string_view context, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      return sqlite_error(path, context, e);
    } catch (const std::exception& e) {
      return other_error(path, context, e);
    }
  }

  static void bind(SQLite::Statement& st, const Params& params) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      const Value& v = params[i];
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        st.bind(index, static_cast<int64_t>(*n));
      } else if (const auto* d = std::get_if<double>(&v)) {
        st.bind(index, *d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        st.bind(index, *s);
      } else {
        st.bind(index);
      }
    }
  }

  static Value column_value(const SQLite::Column& c) {
    switch (c.getType()) {
      case SQLITE_INTEGER:
        return static_cast<std::int64_t>(c.getInt64());
      case SQLITE_FLOAT:
        return c.getDouble();
      case SQLITE_TEXT:
      case SQLITE_BLOB: {
        // Pointer first, then size, as sqlite3_column_bytes() asks.
        const char* p = static_cast<const char*>(c.getBlob());
        const int n = c.getBytes();
        return n > 0 ? std::string(p, static_cast<std::size_t>(n))
                     : std::string();
      }
      default:
        return std::monostate();
    }
  }

  Status exec(std::string_view sql, const Params& params) {
    return guarded(statement_context(sql), [&]() -> Status {
      if (params.empty()) {
        db->exec(std::string(sql));
      } else {
        SQLite::Statement st(*db, std::string(sql));
        bind(st, params);
        while (st.executeStep()) {
        }
      }
      return ok_status();
    });
  }

  Result<std::vector<Row>> query(std::string_view sql, const Params& params) {
    return guarded(statement_context(sql), [&]() -> Result<std::vector<Row>> {
      SQLite::Statement st(*db, std::string(sql));
      bind(st, params);
      std::vector<Row> rows;
      const int columns = st.getColumnCount();
      while (st.executeStep()) {
        Row row;
        row.reserve(static_cast<std::size_t>(columns));
        for (int i = 0; i < columns; ++i) {
          row.push_back(column_value(st.getColumn(i)));
        }
        rows.push_back(std::move(row));
      }
      return rows;
    });
  }

  Result<std::optional<Row>> query_one(std::string_view sql,
                                       const Params& params) {
    NW_ASSIGN_OR_RETURN(std::vector<Row> rows, query(sql, params));
    if (rows.empty()) return std::optional<Row>();
    return std::optional<Row>(std::move(rows.front()));
  }

  // BEGIN IMMEDIATE takes the write lock up front, so a transaction never
  // fails half-way on a lock upgrade.
  Status transaction(const std::function<Status(Tx&)>& fn) {
    Tx tx(*this);
    NW_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE", {}));
    // Rolls back if fn throws (a bug elsewhere), so the connection is not
    // left inside a transaction.
    struct Guard {
      Connection& c;
      bool done = false;
      ~Guard() {
        if (!done) (void)c.exec("ROLLBACK", {});
      }
    } guard{*this};
    Status s = fn(tx);
    guard.done = true;
    if (!s.ok()) {
      Status r = exec("ROLLBACK", {});
      if (!r.ok()) {
        kLog.error("rollback failed", {{"error", r.error().to_string()}});
      }
      return s;
    }
    Status c = exec("COMMIT", {});
    if (!c.ok()) (void)exec("ROLLBACK", {});
    return c;
  }
};

}  // namespace detail

namespace {

// Holds Connection::mu, asserting first that this thread does not already
// hold it (a StateDb call from inside its own transaction callback).
class Locked {
 public:
  explicit Locked(detail::Connection& c) : c_(c) {
    NW_ASSERT(c_.owner.load() != std::this_thread::get_id(),
              "StateDb called from its own transaction callback; use the Tx");
    c_.mu.lock();
    c_.owner.store(std::this_thread::get_id());
  }
  ~Locked() {
    c_.owner.store(std::thread::id());
    c_.mu.unlock();
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  detail::Connection& c_;
};

Status configure(detail::Connection& c) {
  return c.guarded("configuring the connection", [&]() -> Status {
    c.db->setBusyTimeout(StateDb::kBusyTimeoutMs);
    // The first statement that reads the file: a file that is not a
    // database fails here with SQLITE_NOTADB.
    std::string mode = c.db->execAndGet("PRAGMA journal_mode=WAL").getString();
    if (mode != "wal") {
      return Error(Code::io_error,
                   "state database " + c.path +
                       ": cannot switch to WAL mode (journal_mode is " + mode +
                       ")",
                   "put the data directory on a local file system", kDomain);
    }
    // See the class comment: durable against crashes of the agent; a power
    // loss may cost the last commits, never consistency.
    c.db->exec("PRAGMA synchronous=NORMAL");
    c.db->exec("PRAGMA foreign_keys=ON");
    return ok_status();
  });
}

Status migrate(detail::Connection& c, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    NW_ASSERT(migrations[i].version == static_cast<int>(i) + 1,
              "migrations must be numbered 1, 2, 3, ... in order");
  }
  const int known = static_cast<int>(migrations.size());
  NW_RETURN_IF_ERROR(
      c.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             "  version INTEGER PRIMARY KEY,"
             "  description TEXT NOT NULL,"
             "  applied_at TEXT NOT NULL)",
             {}));
  NW_ASSIGN_OR_RETURN(
      std::optional<Row> row,
      c.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                  {}));
  const auto* current_p =
      row ? std::get_if<std::int64_t>(&row->at(0)) : nullptr;
  if (current_p == nullptr) {
    return Error(Code::corruption,
                 "state database " + c.path +
                     ": schema_migrations holds a version that is not a "
                     "number",
                 "move " + c.path + " aside, or restore it from a backup",
                 kDomain);
  }
  const int current = static_cast<int>(*current_p);
  if (current > known) {
    return Error(Code::failed_precondition,
                 "state database " + c.path + " has schema version " +
                     std::to_string(current) + "; this nwagent knows up to " +
                     std::to_string(known),
                 "a newer nwagent wrote this data directory: upgrade nwagent",
                 kDomain);
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    Status s = c.transaction([&](Tx& t) -> Status {
      NW_RETURN_IF_ERROR(t.exec(m.sql));
      return t.exec(
          "INSERT INTO schema_migrations(version, description, "
          "applied_at) VALUES (?, ?, ?)",
          {std::int64_t{m.version}, std::string(m.description),
           format_rfc3339_millis(wall_now())});
    });
    if (!s.ok()) {
      return s.error().wrap("schema migration " + std::to_string(m.version) +
                            " (" + std::string(m.description) + ")");
    }
    kLog.info("schema migration applied", {{"db", c.path},
                                           {"version", m.version},
                                           {"description", m.description}});
  }
  c.schema_version = std::max(current, known);
  return ok_status();
}

}  // namespace

Status Tx::exec(std::string_view sql, const Params& params) {
  return conn_.exec(sql, params);
}

Result<std::vector<Row>> Tx::query(std::string_view sql, const Params& params) {
  return conn_.query(sql, params);
}

Result<std::optional<Row>> Tx::query_one(std::string_view sql,
                                         const Params& params) {
  return conn_.query_one(sql, params);
}

std::int64_t Tx::changes() const { return conn_.db->getChanges(); }

std::int64_t Tx::last_insert_rowid() const {
  return conn_.db->getLastInsertRowid();
}

StateDb::StateDb(std::unique_ptr<detail::Connection> conn)
    : conn_(std::move(conn)) {}

StateDb::~StateDb() = default;

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& path) {
  return open(path, state_migrations());
}

Result<std::unique_ptr<StateDb>> StateDb::open(
    const std::string& path, std::span<const Migration> migrations) {
  auto conn = std::make_unique<detail::Connection>();
  conn->path = path;
  NW_RETURN_IF_ERROR(conn->guarded("opening", [&]() -> Status {
    conn->db = std::make_unique<SQLite::Database>(
        path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    return ok_status();
  }));
  NW_RETURN_IF_ERROR(configure(*conn));
  NW_RETURN_IF_ERROR(migrate(*conn, migrations));
  return std::unique_ptr<StateDb>(new StateDb(std::move(conn)));
}

const std::string& StateDb::path() const { return conn_->path; }

int StateDb::schema_version() const { return conn_->schema_version; }

Status StateDb::exec(std::string_view sql, const Params& params) {
  Locked lock(*conn_);
  return conn_->exec(sql, params);
}

Result<std::vector<Row>> StateDb::query(std::string_view sql,
                                        const Params& params) {
  Locked lock(*conn_);
  return conn_->query(sql, params);
}

Result<std::optional<Row>> StateDb::query_one(std::string_view sql,
                                              const Params& params) {
  Locked lock(*conn_);
  return conn_->query_one(sql, params);
}

Status StateDb::transaction(const std::function<Status(Tx&)>& fn) {
  Locked lock(*conn_);
  return conn_->transaction(fn);
}

namespace {

Result<std::optional<std::string>> get_meta_in(Tx& tx, std::string_view key) {
  NW_ASSIGN_OR_RETURN(
      std::optional<Row> row,
      tx.query_one("SELECT value FROM meta WHERE key = ?", {std::string(key)}));
  if (!row) return std::optional<std::string>();
  // value has TEXT affinity: SQLite stores whatever is bound as text.
  const auto* s = std::get_if<std::string>(&row->at(0));
  return std::optional<std::string>(s != nullptr ? *s : std::string());
}

Status set_meta_in(Tx& tx, std::string_view key, std::string_view value) {
  return tx.exec(
      "INSERT INTO meta(key, value) VALUES (?, ?) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      {std::string(key), std::string(value)});
}

Result<std::int64_t> increment_in(Tx& tx, const std::string& path,
                                  std::string_view key) {
  NW_ASSIGN_OR_RETURN(std::optional<std::string> text, get_meta_in(tx, key));
  std::int64_t n = 0;
  if (text) {
    auto [end, ec] =
        std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc() || end != text->data() + text->size()) {
      return Error(Code::corruption,
                   "state database " + path + ": meta key \"" +
                       std::string(key) + "\" holds \"" + *text +
                       "\", not a counter",
                   {}, kDomain);
    }
  }
  ++n;
  NW_RETURN_IF_ERROR(set_meta_in(tx, key, std::to_string(n)));
  return n;
}

}  // namespace

Result<std::optional<std::string>> StateDb::get_meta(std::string_view key) {
  Locked lock(*conn_);
  Tx tx(*conn_);
  return get_meta_in(tx, key);
}

Status StateDb::set_meta(std::string_view key, std::string_view value) {
  Locked lock(*conn_);
  Tx tx(*conn_);
  return set_meta_in(tx, key, value);
}

Result<std::int64_t> StateDb::increment_counter(std::string_view key) {
  std::int64_t out = 0;
  NW_RETURN_IF_ERROR(transaction([&](Tx& tx) -> Status {
    NW_ASSIGN_OR_RETURN(out, increment_in(tx, path(), key));
    return ok_status();
  }));
  return out;
}

Status StateDb::checkpoint() {
  Locked lock(*conn_);
  NW_ASSIGN_OR_RETURN(std::optional<Row> row,
                      conn_->query_one("PRAGMA wal_checkpoint(TRUNCATE)", {}));
  // (busy, WAL frames, frames checkpointed); busy = 1 when a reader or
  // writer kept the checkpoint from finishing.
  const auto* busy = row ? std::get_if<std::int64_t>(&row->at(0)) : nullptr;
  if (busy != nullptr && *busy != 0) {
    return Error(Code::unavailable,
                 "state database " + conn_->path +
                     ": checkpoint did not complete: the database is busy",
                 "another process has " + conn_->path + " open", kDomain);
  }
  return ok_status();
}

Result<std::int64_t> record_start(StateDb& db, WallTime now) {
  std::int64_t starts = 0;
  NW_RETURN_IF_ERROR(db.transaction([&](Tx& tx) -> Status {
    NW_ASSIGN_OR_RETURN(starts, increment_in(tx, db.path(), "starts"));
    return set_meta_in(tx, "last_start", format_rfc3339_millis(now));
  }));
  return starts;
}

}  // namespace nw::state
