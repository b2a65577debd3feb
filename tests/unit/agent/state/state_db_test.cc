#include "agent/state/state_db.h"

#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/agent/state/temp_dir.h"

namespace nw::state {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

std::unique_ptr<StateDb> must_open(const std::string& path) {
  auto db = StateDb::open(path);
  REQUIRE_MESSAGE(db.ok(), db.error().to_string());
  return std::move(db).value();
}

std::int64_t count(StateDb& db, std::string_view sql) {
  auto row = db.query_one(sql);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  const auto* n = std::get_if<std::int64_t>(&(**row)[0]);
  REQUIRE(n != nullptr);
  return *n;
}

std::string text(StateDb& db, std::string_view sql) {
  auto row = db.query_one(sql);
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  const auto* s = std::get_if<std::string>(&(**row)[0]);
  REQUIRE(s != nullptr);
  return *s;
}

// The real first migration plus test ones.
const std::array<Migration, 1> kOne{state_migrations()[0]};
const std::array<Migration, 2> kTwo{
    state_migrations()[0],
    Migration{2, "test table",
              "CREATE TABLE runs(id INTEGER PRIMARY KEY, "
              "job TEXT NOT NULL);"}};
const std::array<Migration, 2> kBrokenTwo{
    state_migrations()[0],
    Migration{2, "half broken",
              "CREATE TABLE half(x INTEGER); INSERT INTO nope VALUES (1);"}};

TEST_SUITE("state.state_db") {
  TEST_CASE("open.applies_migrations_once") {
    TempDir tmp;
    const auto known = static_cast<std::int64_t>(state_migrations().size());
    std::string applied_at;
    {
      auto db = must_open(tmp / "state.db");
      CHECK(db->schema_version() == known);
      CHECK(count(*db, "SELECT COUNT(*) FROM schema_migrations") == known);
      CHECK(text(*db,
                 "SELECT description FROM schema_migrations "
                 "WHERE version = 1") == "meta key/value table");
      applied_at = text(*db,
                        "SELECT applied_at FROM schema_migrations "
                        "WHERE version = 1");
      CHECK(applied_at.size() == 24);  // 2026-11-22T10:00:00.123Z
    }
    auto db = must_open(tmp / "state.db");
    CHECK(db->schema_version() == known);
    CHECK(count(*db, "SELECT COUNT(*) FROM schema_migrations") == known);
    CHECK(text(*db,
               "SELECT applied_at FROM schema_migrations "
               "WHERE version = 1") == applied_at);
  }

  TEST_CASE("open.applies_only_pending_migrations") {
    TempDir tmp;
    {
      auto db = StateDb::open(tmp / "state.db", kOne);
      REQUIRE(db.ok());
      CHECK((*db)->schema_version() == 1);
      REQUIRE((*db)->set_meta("kept", "yes").ok());
    }
    auto db = StateDb::open(tmp / "state.db", kTwo);
    REQUIRE_MESSAGE(db.ok(), db.error().to_string());
    CHECK((*db)->schema_version() == 2);
    CHECK(count(**db, "SELECT COUNT(*) FROM schema_migrations") == 2);
    CHECK(count(**db, "SELECT COUNT(*) FROM runs") == 0);
    auto kept = (*db)->get_meta("kept");
    REQUIRE(kept.ok());
    CHECK(*kept == std::optional<std::string>("yes"));
  }

  TEST_CASE("open.failed_migration_rolls_back_whole_step") {
    TempDir tmp;
    {
      auto db = StateDb::open(tmp / "state.db", kBrokenTwo);
      REQUIRE_FALSE(db.ok());
      CHECK(contains(db.error().message, "schema migration 2 (half broken)"));
      CHECK(contains(db.error().message, "no such table: nope"));
    }
    auto db = StateDb::open(tmp / "state.db", kOne);
    REQUIRE(db.ok());
    CHECK((*db)->schema_version() == 1);
    CHECK(count(**db,
                "SELECT COUNT(*) FROM sqlite_master "
                "WHERE name = 'half'") == 0);
  }

  TEST_CASE("open.newer_schema_is_refused") {
    TempDir tmp;
    {
      auto db = must_open(tmp / "state.db");
      REQUIRE(db->exec("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                       {std::int64_t{99}, "from the future", "2030"})
                  .ok());
    }
    auto db = StateDb::open(tmp / "state.db");
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().code == Code::failed_precondition);
    CHECK(contains(db.error().message,
                   "has schema version 99; this nwagent knows up to " +
                       std::to_string(state_migrations().size())));
    CHECK(contains(db.error().hint, "upgrade nwagent"));
  }

  TEST_CASE("open.wal_mode_and_pragmas_are_active") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    CHECK(text(*db, "PRAGMA journal_mode") == "wal");
    CHECK(count(*db, "PRAGMA synchronous") == 1);  // NORMAL
    CHECK(count(*db, "PRAGMA foreign_keys") == 1);
    CHECK(count(*db, "PRAGMA busy_timeout") == StateDb::kBusyTimeoutMs);
  }

  TEST_CASE("open.garbage_file_is_corruption") {
    TempDir tmp;
    write_file(tmp / "state.db", std::string(8192, 'x'));
    auto db = StateDb::open(tmp / "state.db");
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().code == Code::corruption);
    CHECK(contains(db.error().message, (tmp / "state.db").string()));
    CHECK(contains(db.error().message, "not a database"));
    CHECK(contains(db.error().hint, "aside"));
  }

  TEST_CASE("open.flipped_header_bytes_are_corruption") {
    TempDir tmp;
    {
      auto db = must_open(tmp / "state.db");
      REQUIRE(db->set_meta("k", "v").ok());
      REQUIRE(db->checkpoint().ok());
    }
    {
      std::fstream f(tmp / "state.db",
                     std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(0);
      f.write("NotSQLiteAtAll!!", 16);
      REQUIRE(f.good());
    }
    auto db = StateDb::open(tmp / "state.db");
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().code == Code::corruption);
  }

  TEST_CASE("open.directory_in_the_way_is_io_error") {
    TempDir tmp;
    fs::create_directories(tmp / "state.db");
    auto db = StateDb::open(tmp / "state.db");
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().code == Code::io_error);
    CHECK(contains(db.error().message, (tmp / "state.db").string()));
  }

  TEST_CASE("meta.get_and_set") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    auto missing = db->get_meta("last_start");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
    REQUIRE(db->set_meta("last_start", "a").ok());
    REQUIRE(db->set_meta("last_start", "b").ok());
    auto got = db->get_meta("last_start");
    REQUIRE(got.ok());
    CHECK(*got == std::optional<std::string>("b"));
  }

  TEST_CASE("increment_counter.counts_from_one_and_persists") {
    TempDir tmp;
    {
      auto db = must_open(tmp / "state.db");
      CHECK(db->increment_counter("starts").value_or(-1) == 1);
      CHECK(db->increment_counter("starts").value_or(-1) == 2);
    }
    auto db = must_open(tmp / "state.db");
    CHECK(db->increment_counter("starts").value_or(-1) == 3);
    auto stored = db->get_meta("starts");
    REQUIRE(stored.ok());
    CHECK(*stored == std::optional<std::string>("3"));
  }

  TEST_CASE("increment_counter.non_integer_is_corruption") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    REQUIRE(db->set_meta("starts", "many").ok());
    auto r = db->increment_counter("starts");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::corruption);
    CHECK(*db->get_meta("starts") == std::optional<std::string>("many"));
  }

  TEST_CASE("increment_counter.concurrent_callers_lose_no_update") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    constexpr int kThreads = 4;
    constexpr int kEach = 50;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kEach; ++i) {
          CHECK(db->increment_counter("n").ok());
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(*db->get_meta("n") ==
          std::optional<std::string>(std::to_string(kThreads * kEach)));
  }

  TEST_CASE("record_start.increments_starts_and_stamps_time") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    WallTime t = WallTime{} + std::chrono::seconds(1795860000);
    CHECK(record_start(*db, t).value_or(-1) == 1);
    CHECK(record_start(*db, t).value_or(-1) == 2);
    CHECK(*db->get_meta("last_start") ==
          std::optional<std::string>(format_rfc3339_millis(t)));
  }

  TEST_CASE("transaction.commits_or_rolls_back") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    REQUIRE(db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
    Status failed = db->transaction([](Tx& tx) -> Status {
      NW_RETURN_IF_ERROR(tx.exec("INSERT INTO t(v) VALUES (?)", {"lost"}));
      return Error(Code::cancelled, "changed my mind");
    });
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().message == "changed my mind");
    CHECK(count(*db, "SELECT COUNT(*) FROM t") == 0);

    std::int64_t rowid = 0;
    Status ok = db->transaction([&](Tx& tx) -> Status {
      NW_RETURN_IF_ERROR(tx.exec("INSERT INTO t(v) VALUES (?)", {"kept"}));
      CHECK(tx.changes() == 1);
      rowid = tx.last_insert_rowid();
      return ok_status();
    });
    REQUIRE(ok.ok());
    CHECK(rowid > 0);
    CHECK(text(*db, "SELECT v FROM t") == "kept");
  }

  TEST_CASE("exec.constraint_violation_is_conflict") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    const char* insert = "INSERT INTO meta(key, value) VALUES (?, ?)";
    REQUIRE(db->exec(insert, {"k", "1"}).ok());
    Status dup = db->exec(insert, {"k", "2"});
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.error().code == Code::conflict);
    CHECK(contains(dup.error().message, "INSERT INTO meta"));
  }

  TEST_CASE("exec.bad_sql_is_an_error_not_an_exception") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    Status s = db->exec("SELEC nonsense");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::io_error);
    CHECK(contains(s.error().message, "SELEC nonsense"));
    auto q = db->query("SELECT * FROM missing_table");
    REQUIRE_FALSE(q.ok());
  }

  TEST_CASE("query.round_trips_values") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    REQUIRE(db->exec("CREATE TABLE v(i INTEGER, d REAL, s TEXT, n TEXT)").ok());
    const std::string binary("a\0b\xff", 4);
    REQUIRE(db->exec("INSERT INTO v VALUES (?, ?, ?, ?)",
                     {std::int64_t{-7}, 2.5, binary, std::monostate()})
                .ok());
    auto rows = db->query("SELECT i, d, s, n FROM v");
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 1);
    const Row& r = rows->front();
    CHECK(std::get<std::int64_t>(r[0]) == -7);
    CHECK(std::get<double>(r[1]) == 2.5);
    CHECK(std::get<std::string>(r[2]) == binary);
    CHECK(std::holds_alternative<std::monostate>(r[3]));
    auto none = db->query_one("SELECT i FROM v WHERE i = 0");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
  }

  TEST_CASE("checkpoint.truncates_the_wal") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    REQUIRE(db->set_meta("k", std::string(10000, 'v')).ok());
    CHECK(fs::file_size(tmp / "state.db-wal") > 0);
    REQUIRE(db->checkpoint().ok());
    CHECK(fs::file_size(tmp / "state.db-wal") == 0);
  }
}

}  // namespace
}  // namespace nw::state
