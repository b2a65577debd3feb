#include "agent/jobs/output_store.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/state/migrations.h"
#include "agent/state/state_db.h"
#include "tests/support/check.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::jobs::test {
namespace {

using namespace std::chrono_literals;
using testsupport::TempDir;
using testsupport::wait_until;

// A deadline no correct test reaches: a read that should return at once
// but waits instead fails the case by ctest's timeout.
MonoTime far_deadline() { return mono_now() + 1h; }

// The stream "0123456789" repeated to `n` bytes, from offset `from`.
std::string digits(std::size_t from, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += static_cast<char>('0' + (from + i) % 10);
  }
  return s;
}

// Every byte value, twice, NUL and 0xff included.
std::string all_bytes() {
  std::string s;
  for (int round = 0; round < 2; ++round) {
    for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
  }
  return s;
}

std::unique_ptr<state::StateDb> must_open(const std::string& path) {
  auto db = state::StateDb::open(path);
  NW_REQUIRE_OK(db);
  return std::move(db).value();
}

StoredOutput output(std::uint64_t run_id, std::string job, std::string head,
                    std::string tail, std::uint64_t elided = 0) {
  StoredOutput out;
  out.run_id = run_id;
  out.job = std::move(job);
  out.total_bytes = head.size() + tail.size() + elided;
  out.elided_bytes = elided;
  out.head = std::move(head);
  out.tail = std::move(tail);
  out.ended_ms = 1764556200000 + static_cast<std::int64_t>(run_id);
  return out;
}

std::optional<StoredOutput> must_get(OutputStore& store, std::uint64_t id) {
  auto got = store.get(id);
  NW_REQUIRE_OK(got);
  return std::move(got).value();
}

std::vector<std::uint64_t> present(OutputStore& store, std::uint64_t first,
                                   std::uint64_t last) {
  std::vector<std::uint64_t> ids;
  for (std::uint64_t id = first; id <= last; ++id) {
    if (must_get(store, id)) ids.push_back(id);
  }
  return ids;
}

std::uint64_t must_kept(OutputStore& store) {
  auto kept = store.kept_bytes();
  NW_REQUIRE_OK(kept);
  return *kept;
}

void check_equal(const StoredOutput& a, const StoredOutput& b) {
  CHECK(a.run_id == b.run_id);
  CHECK(a.job == b.job);
  CHECK(a.head == b.head);
  CHECK(a.tail == b.tail);
  CHECK(a.total_bytes == b.total_bytes);
  CHECK(a.elided_bytes == b.elided_bytes);
  CHECK(a.ended_ms == b.ended_ms);
}

}  // namespace

TEST_SUITE("jobs.slice_output") {
  TEST_CASE("slice.no_elision") {
    // head = [0, 4), tail = [4, 8): one contiguous stream.
    const std::string head = "0123";
    const std::string tail = "4567";
    OutputSlice s = slice_output(head, tail, 8, 0, 100);
    CHECK(s.offset == 0);
    CHECK(s.data == "01234567");
    CHECK(s.next_offset == 8);
    CHECK(s.total_bytes == 8);

    s = slice_output(head, tail, 8, 2, 3);
    CHECK(s.offset == 2);
    CHECK(s.data == "234");
    CHECK(s.next_offset == 5);

    s = slice_output(head, tail, 8, 3, 3);  // across the head's end
    CHECK(s.data == "345");
    CHECK(s.next_offset == 6);

    s = slice_output(head, tail, 8, 5, 100);
    CHECK(s.offset == 5);
    CHECK(s.data == "567");
    CHECK(s.next_offset == 8);

    s = slice_output(head, tail, 8, 2, 0);
    CHECK(s.offset == 2);
    CHECK(s.data.empty());
    CHECK(s.next_offset == 2);

    // Any from, any cut: the slice is the stream's bytes.
    const std::string stream = head + tail;
    for (std::uint64_t from = 0; from <= 8; ++from) {
      for (std::size_t max = 0; max <= 9; ++max) {
        s = slice_output(head, tail, 8, from, max);
        CHECK(s.offset == from);
        CHECK(s.data == stream.substr(from, max));
        CHECK(s.next_offset == from + s.data.size());
      }
    }
  }

  TEST_CASE("slice.with_elision") {
    // head = [0, 2), middle [2, 7) elided, tail = [7, 10).
    const std::string head = "ab";
    const std::string tail = "xyz";
    OutputSlice s = slice_output(head, tail, 10, 0, 100);
    CHECK(s.offset == 0);
    CHECK(s.data == "ab");  // stops at the gap
    CHECK(s.next_offset == 2);
    CHECK(s.total_bytes == 10);

    s = slice_output(head, tail, 10, 1, 1);
    CHECK(s.data == "b");
    CHECK(s.next_offset == 2);

    s = slice_output(head, tail, 10, 2, 100);  // the gap's first byte
    CHECK(s.offset == 7);
    CHECK(s.data == "xyz");
    CHECK(s.next_offset == 10);

    s = slice_output(head, tail, 10, 5, 2);  // inside the gap
    CHECK(s.offset == 7);
    CHECK(s.data == "xy");
    CHECK(s.next_offset == 9);

    s = slice_output(head, tail, 10, 8, 100);  // inside the tail
    CHECK(s.offset == 8);
    CHECK(s.data == "yz");
    CHECK(s.next_offset == 10);

    s = slice_output(head, tail, 10, 10, 100);  // at the end
    CHECK(s.offset == 10);
    CHECK(s.data.empty());
    CHECK(s.next_offset == 10);

    s = slice_output(head, tail, 10, 15, 100);  // past it: never backwards
    CHECK(s.offset == 15);
    CHECK(s.data.empty());
    CHECK(s.next_offset == 15);
    CHECK(s.total_bytes == 10);
  }

  TEST_CASE("slice.following_reads_head_then_tail_once") {
    const std::string head = "ab";
    const std::string tail = "xyz";
    std::string got;
    std::uint64_t from = 0;
    int skips = 0;
    for (int i = 0; i < 100 && from < 10; ++i) {
      OutputSlice s = slice_output(head, tail, 10, from, 1);
      REQUIRE(s.next_offset > from);
      if (s.offset > from) ++skips;
      got += s.data;
      from = s.next_offset;
    }
    CHECK(got == "abxyz");
    CHECK(skips == 1);
    CHECK(from == 10);
  }

  TEST_CASE("slice.empty_streams") {
    OutputSlice s = slice_output("", "", 0, 0, 100);
    CHECK(s.offset == 0);
    CHECK(s.data.empty());
    CHECK(s.next_offset == 0);
    CHECK(s.total_bytes == 0);

    // Output written but nothing kept (a limit of 0): all elided.
    s = slice_output("", "", 5, 0, 100);
    CHECK(s.offset == 5);
    CHECK(s.data.empty());
    CHECK(s.next_offset == 5);

    // Only a head.
    s = slice_output("abc", "", 3, 1, 100);
    CHECK(s.data == "bc");
    CHECK(s.next_offset == 3);
  }

  TEST_CASE("slice.stored_output") {
    const StoredOutput out = output(1, "j", "ab", "xyz", 5);
    OutputSlice s = slice_output(out, 3, 100);
    CHECK(s.offset == 7);
    CHECK(s.data == "xyz");
    CHECK(s.total_bytes == 10);
  }
}

TEST_SUITE("jobs.live_output") {
  TEST_CASE("read.returns_at_once_with_data") {
    LiveOutput live(1 << 10);
    live.append("hello ");
    live.append("world");
    OutputSlice s = live.read(0, 100, far_deadline());
    CHECK(s.offset == 0);
    CHECK(s.data == "hello world");
    CHECK(s.next_offset == 11);
    CHECK(s.total_bytes == 11);
    s = live.read(6, 3, far_deadline());
    CHECK(s.data == "wor");
    CHECK(!live.finished());
  }

  TEST_CASE("read.at_end_times_out_empty") {
    LiveOutput live(1 << 10);
    live.append("abc");
    OutputSlice s = live.read(3, 100, mono_now() + 20ms);
    CHECK(s.offset == 3);
    CHECK(s.data.empty());
    CHECK(s.next_offset == 3);
    CHECK(live.waiting_readers() == 0);
  }

  TEST_CASE("read.waits_then_wakes_on_append") {
    LiveOutput live(1 << 10);
    live.append("abc");
    OutputSlice got;
    std::thread reader([&] { got = live.read(3, 100, far_deadline()); });
    const bool blocked = wait_until([&] { return live.waiting_readers() == 1; },
                                    10000ms, "the reader to block");
    live.append("def");
    reader.join();
    REQUIRE(blocked);
    CHECK(got.offset == 3);
    CHECK(got.data == "def");
    CHECK(got.next_offset == 6);
    CHECK(live.waiting_readers() == 0);
  }

  TEST_CASE("finish.wakes_a_waiter") {
    LiveOutput live(1 << 10);
    live.append("abc");
    OutputSlice got;
    std::thread reader([&] { got = live.read(3, 100, far_deadline()); });
    const bool blocked = wait_until([&] { return live.waiting_readers() == 1; },
                                    10000ms, "the reader to block");
    live.finish();
    reader.join();
    REQUIRE(blocked);
    CHECK(live.finished());
    CHECK(got.offset == 3);
    CHECK(got.data.empty());
    CHECK(got.total_bytes == 3);
    // After finish() a read at the end returns at once.
    got = live.read(3, 100, far_deadline());
    CHECK(got.data.empty());
    CHECK(got.next_offset == 3);
  }

  TEST_CASE("read.head_and_tail_bounded_by_the_limit") {
    LiveOutput live(10);  // head 5 bytes, tail 5 bytes
    for (std::size_t i = 0; i < 100; i += 7) {
      live.append(digits(i, std::min<std::size_t>(7, 100 - i)));
    }
    live.finish();
    const CapturedOutput snap = live.snapshot();
    CHECK(snap.head() == "01234");
    CHECK(snap.tail() == "56789");  // stream bytes [95, 100)
    CHECK(snap.total_bytes() == 100);
    CHECK(snap.elided_bytes() == 90);

    OutputSlice s = live.read(0, 100, far_deadline());
    CHECK(s.data == "01234");
    CHECK(s.next_offset == 5);
    s = live.read(s.next_offset, 100, far_deadline());
    CHECK(s.offset == 95);
    CHECK(s.data == "56789");
    CHECK(s.next_offset == 100);
    s = live.read(100, 100, far_deadline());
    CHECK(s.data.empty());
    CHECK(s.offset == 100);
    // A read from inside the head that would reach past it.
    s = live.read(3, 4, far_deadline());
    CHECK(s.data == "34");
    CHECK(s.next_offset == 5);
  }

  TEST_CASE("read.follower_sees_the_whole_stream") {
    constexpr std::size_t kChunks = 2000;
    LiveOutput live(1 << 20);
    std::string got;
    std::thread follower([&] {
      std::uint64_t from = 0;
      while (true) {
        OutputSlice s = live.read(from, 777, far_deadline());
        REQUIRE(s.offset == from);
        got += s.data;
        from = s.next_offset;
        if (s.data.empty() && live.finished() && from == s.total_bytes) break;
      }
    });
    std::string sent;
    for (std::size_t i = 0; i < kChunks; ++i) {
      const std::string chunk = digits(sent.size(), 1 + i % 97);
      sent += chunk;
      live.append(chunk);
    }
    live.finish();
    follower.join();
    CHECK(got.size() == sent.size());
    CHECK(got == sent);
  }
}

TEST_SUITE("jobs.output_store") {
  TEST_CASE("put.binary_round_trip") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    const std::string head = std::string("\0a\xff", 3) + all_bytes();
    const std::string tail = all_bytes() + std::string("z\0", 2);
    const StoredOutput in = output(42, "backup", head, tail, 1000);
    NW_REQUIRE_OK(store.put(in));
    auto got = must_get(store, 42);
    REQUIRE(got.has_value());
    check_equal(*got, in);
    CHECK(got->head.size() == head.size());

    // Stored as BLOBs, whose length() counts every byte.
    auto row = db->query_one(
        "SELECT typeof(head), length(head), typeof(tail), length(tail) "
        "FROM run_output WHERE run_id = 42");
    NW_REQUIRE_OK(row);
    REQUIRE(row->has_value());
    CHECK(std::get<std::string>((**row)[0]) == "blob");
    CHECK(std::get<std::int64_t>((**row)[1]) ==
          static_cast<std::int64_t>(head.size()));
    CHECK(std::get<std::string>((**row)[2]) == "blob");
    CHECK(std::get<std::int64_t>((**row)[3]) ==
          static_cast<std::int64_t>(tail.size()));
    CHECK(must_kept(store) == head.size() + tail.size());
  }

  TEST_CASE("put.empty_output") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    NW_REQUIRE_OK(store.put(output(1, "quiet", "", "")));
    auto got = must_get(store, 1);
    REQUIRE(got.has_value());
    CHECK(got->head.empty());
    CHECK(got->tail.empty());
    CHECK(got->total_bytes == 0);
  }

  TEST_CASE("put.from_captured_output") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    CapturedOutput captured(10);
    captured.append(digits(0, 100));
    const WallTime ended = WallTime(std::chrono::milliseconds(1764556200123));
    NW_REQUIRE_OK(store.put(stored_output(7, "j", captured, ended)));
    auto got = must_get(store, 7);
    REQUIRE(got.has_value());
    CHECK(got->head == "01234");
    CHECK(got->tail == "56789");
    CHECK(got->total_bytes == 100);
    CHECK(got->elided_bytes == 90);
    CHECK(got->ended_ms == 1764556200123);
    OutputSlice s = slice_output(*got, 5, 100);
    CHECK(s.offset == 95);
    CHECK(s.data == "56789");
  }

  TEST_CASE("put.replaces") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    NW_REQUIRE_OK(store.put(output(5, "a", "old head", "old tail", 3)));
    const StoredOutput newer = output(5, "b", "new", "", 0);
    NW_REQUIRE_OK(store.put(newer));
    auto got = must_get(store, 5);
    REQUIRE(got.has_value());
    check_equal(*got, newer);
    CHECK(must_kept(store) == 3);
  }

  TEST_CASE("put.rejects_inconsistent_sizes") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    StoredOutput bad = output(1, "a", "abc", "def", 2);
    bad.total_bytes = 7;  // 3 + 3 + 2 = 8
    Status s = store.put(bad);
    REQUIRE(!s.ok());
    CHECK(s.error().code == Code::invalid_argument);
    CHECK(!must_get(store, 1).has_value());
  }

  TEST_CASE("put.keeps_runs_per_job") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {.runs_per_job = 3, .max_total_bytes = 1 << 20});
    // Job a: runs 1, 2, 4, 6, 8; job b: runs 3, 5, 7.
    for (std::uint64_t id = 1; id <= 8; ++id) {
      const bool b = id == 3 || id == 5 || id == 7;
      NW_REQUIRE_OK(store.put(output(id, b ? "b" : "a", "h", "t")));
    }
    CHECK(present(store, 1, 8) == std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8});
    CHECK(must_kept(store) == 6 * 2);
    // An old run put late is the oldest of its job: pruned at once.
    NW_REQUIRE_OK(store.put(output(2, "a", "h", "t")));
    CHECK(!must_get(store, 2).has_value());
    CHECK(must_kept(store) == 6 * 2);
  }

  TEST_CASE("put.keeps_max_total_bytes") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {.runs_per_job = 50, .max_total_bytes = 100});
    const std::string fifteen(15, 'x');
    for (std::uint64_t id = 1; id <= 5; ++id) {
      // 30 bytes kept each, over two jobs.
      NW_REQUIRE_OK(
          store.put(output(id, id % 2 ? "odd" : "even", fifteen, fifteen, 9)));
    }
    CHECK(present(store, 1, 5) == std::vector<std::uint64_t>{3, 4, 5});
    CHECK(must_kept(store) == 90);

    // A run bigger than the whole limit stays, alone.
    NW_REQUIRE_OK(store.put(
        output(6, "big", std::string(80, 'b'), std::string(70, 'c'))));
    CHECK(present(store, 1, 6) == std::vector<std::uint64_t>{6});
    CHECK(must_kept(store) == 150);

    // The next put makes room by dropping the big run.
    for (std::uint64_t id = 7; id <= 10; ++id) {
      NW_REQUIRE_OK(store.put(output(id, "s", "0123456789", "")));
    }
    CHECK(present(store, 1, 10) == std::vector<std::uint64_t>{7, 8, 9, 10});
    CHECK(must_kept(store) == 40);

    // A lowered limit prunes many runs at the next put.
    OutputStore small(*db, {.runs_per_job = 50, .max_total_bytes = 20});
    NW_REQUIRE_OK(small.put(output(11, "s", "0123456789", "")));
    CHECK(present(store, 1, 11) == std::vector<std::uint64_t>{10, 11});
    CHECK(must_kept(store) == 20);
  }

  TEST_CASE("get.missing_run_is_nullopt") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    CHECK(!must_get(store, 1).has_value());
    NW_REQUIRE_OK(store.put(output(1, "a", "h", "t")));
    CHECK(!must_get(store, 2).has_value());
    CHECK(!must_get(store, ~std::uint64_t{0}).has_value());
  }

  TEST_CASE("get.inconsistent_row_is_corruption") {
    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    NW_REQUIRE_OK(store.put(output(1, "a", "head", "tail", 5)));
    NW_REQUIRE_OK(
        db->exec("UPDATE run_output SET total_bytes = 3 WHERE run_id = 1"));
    auto got = store.get(1);
    REQUIRE(!got.ok());
    CHECK(got.error().code == Code::corruption);
  }

  TEST_CASE("get.survives_reopening") {
    TempDir tmp;
    const StoredOutput in = output(9, "nightly", all_bytes(), "end\n", 12345);
    {
      auto db = must_open(tmp / "state.db");
      OutputStore store(*db, {});
      NW_REQUIRE_OK(store.put(in));
      NW_REQUIRE_OK(db->checkpoint());
    }
    auto db = must_open(tmp / "state.db");
    OutputStore store(*db, {});
    auto got = must_get(store, 9);
    REQUIRE(got.has_value());
    check_equal(*got, in);
    CHECK(must_kept(store) == in.head.size() + in.tail.size());
  }

  TEST_CASE("migration.v1_database_gains_run_output") {
    TempDir tmp;
    const std::string path = tmp / "state.db";
    {
      auto v1 =
          state::StateDb::open(path, state::state_migrations().subspan(0, 1));
      NW_REQUIRE_OK(v1);
      CHECK((*v1)->schema_version() == 1);
      NW_REQUIRE_OK((*v1)->set_meta("starts", "3"));
    }
    auto db = must_open(path);
    CHECK(db->schema_version() >= 2);
    auto starts = db->get_meta("starts");
    NW_REQUIRE_OK(starts);
    CHECK(starts->value_or("") == "3");
    OutputStore store(*db, {});
    CHECK(must_kept(store) == 0);
    NW_REQUIRE_OK(store.put(output(1, "a", "h", "t")));
    CHECK(must_get(store, 1).has_value());
  }
}

// A measurement, not a test: the latency of one put() into a table that
// already holds many rows, with both retention rules pruning at every put.
// Skipped by default; run it with
//   jobs_output_test -ts=jobs.output_bench --no-skip -s
// (NW_BENCH_ROWS rows present, 10000 by default; NW_BENCH_N puts, 2000).
TEST_SUITE("jobs.output_bench" * doctest::skip()) {
  TEST_CASE("put.latency_with_many_rows") {
    const char* env_rows = std::getenv("NW_BENCH_ROWS");
    const char* env_n = std::getenv("NW_BENCH_N");
    const std::uint64_t rows = env_rows ? std::atoll(env_rows) : 10000;
    const int n = env_n ? std::atoi(env_n) : 2000;
    constexpr std::uint64_t kJobs = 200;
    constexpr std::size_t kHalf = 1024;  // 2 KiB kept per run

    TempDir tmp;
    auto db = must_open(tmp / "state.db");
    // Room for exactly `rows` runs, so every put past them prunes by bytes;
    // rows / kJobs runs per job, so every put prunes its job too.
    const OutputStore::Limits limits{
        .runs_per_job = static_cast<std::size_t>(rows / kJobs),
        .max_total_bytes = rows * 2 * kHalf};
    OutputStore store(*db, limits);
    const std::string head(kHalf, 'h');
    const std::string tail(kHalf, 't');

    std::uint64_t id = 1;
    const auto fill0 = std::chrono::steady_clock::now();
    for (; id <= rows; ++id) {
      NW_REQUIRE_OK(store.put(
          output(id, "job-" + std::to_string(id % kJobs), head, tail, 100000)));
    }
    const double fill_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - fill0)
            .count();

    // Median and p99 of `count` puts of head h and tail t, in us.
    auto measure = [&](int count, const std::string& h, const std::string& t) {
      std::vector<double> us;
      us.reserve(static_cast<std::size_t>(count));
      for (int i = 0; i < count; ++i, ++id) {
        const StoredOutput out =
            output(id, "job-" + std::to_string(id % kJobs), h, t, 100000);
        const auto t0 = std::chrono::steady_clock::now();
        NW_REQUIRE_OK(store.put(out));
        us.push_back(std::chrono::duration<double, std::micro>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
      }
      std::sort(us.begin(), us.end());
      return std::pair(us[us.size() / 2], us[us.size() * 99 / 100]);
    };
    const auto [small_median, small_p99] = measure(n, head, tail);
    auto present_rows = db->query_one("SELECT COUNT(*) FROM run_output");
    NW_REQUIRE_OK(present_rows);
    MESSAGE(rows << " rows filled in " << fill_s << " s; " << n
                 << " puts of 2 KiB with "
                 << std::get<std::int64_t>((**present_rows)[0])
                 << " rows present: median " << small_median << " us, p99 "
                 << small_p99 << " us");
    // The default output_limit: 1 MiB kept (the first ones prune ~512 small
    // runs each to make room).
    const std::string big_half(512 << 10, 'b');
    const auto [big_median, big_p99] = measure(100, big_half, big_half);
    MESSAGE("100 puts of 1 MiB: median " << big_median << " us, p99 " << big_p99
                                         << " us");
  }
}

}  // namespace nw::jobs::test
