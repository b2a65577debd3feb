// A measurement, not a test: how fast durable appends of record batches are
// on this machine. Skipped by default; run it with
//   storage_test -ts=storage.bench --no-skip -s
// (set TMPDIR to put the log on the disk you want to measure).
#include <doctest/doctest.h>

#include <chrono>

#include "tests/support/temp_dir.h"
#include "tests/unit/agent/storage/segment_test_util.h"

namespace nw::storage::test {
namespace {

// `appends` append() calls of `per_call` batches of 100 records of 1 KiB.
void measure(std::uint64_t appends, std::uint64_t per_call, bool fsync) {
  testsupport::TempDir tmp;
  auto opts = options(tmp.path().string());
  opts.fsync = fsync;
  opts.segment_bytes = 128ull << 20;
  opts.index_interval_bytes = 4096;
  auto log = open_ok(opts);
  const std::string b = batch(100, "bench", 1'700'000'000'000, 1024);
  std::uint64_t index = 1;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t k = 0; k < appends; ++k) {
    std::vector<Entry> es;
    for (std::uint64_t j = 0; j < per_call; ++j) {
      es.push_back(data_entry(1, index++, b));
    }
    REQUIRE(log->append(es).ok());
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const double batches = static_cast<double>(appends * per_call);
  MESSAGE(std::string(fsync ? "fsync" : "no fsync")
          << ": " << appends << " appends of " << per_call << " batch(es) of "
          << "100 x 1 KiB records (" << b.size() << " B/batch): " << appends / s
          << " appends/s, " << batches / s << " batches/s, "
          << batches * 100 / s << " records/s, "
          << batches * static_cast<double>(b.size()) / s / (1 << 20)
          << " MiB/s");
}

}  // namespace

TEST_SUITE("storage.bench" * doctest::skip()) {
  TEST_CASE("append.batches_of_100_1kib_records_with_fsync") {
    measure(1000, 1, true);
    measure(200, 8, true);
    measure(1000, 1, false);
  }
}

}  // namespace nw::storage::test
