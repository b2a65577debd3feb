// A measurement, not a test: how long durable appends take on this machine.
// Skipped by default; run it with
//   wal_test -ts=wal.bench --no-skip -s
#include <doctest/doctest.h>

#include <chrono>

#include "tests/unit/agent/wal/wal_test_util.h"

namespace nw::wal::test {

TEST_SUITE("wal.bench" * doctest::skip()) {
  TEST_CASE("append.1000_entries_of_100_bytes_with_fsync") {
    testsupport::TempDir tmp;
    auto w = open_ok((tmp / "wal").string(), WalOptions{});
    const std::string data(100, 'b');
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 1; i <= 1000; ++i) {
      REQUIRE(w->append({entry(1, i, data)}).ok());
    }
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    MESSAGE("1000 durable appends of 100 B: " << us / 1000.0 << " ms total, "
                                              << us / 1000.0 << " us each");
  }
}

}  // namespace nw::wal::test
