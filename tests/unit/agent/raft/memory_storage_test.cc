#include "agent/raft/memory_storage.h"

#include <doctest/doctest.h>

namespace nw::raft {
namespace {

Entry entry(std::uint64_t term, std::uint64_t index) {
  return Entry{Term(term), LogIndex(index), EntryType::normal, "d"};
}

}  // namespace

TEST_SUITE("raft.memory_storage") {
  TEST_CASE("append.replaces_conflicting_suffix") {
    MemoryStorage s;
    REQUIRE(s.append({entry(1, 1), entry(1, 2), entry(1, 3)}).ok());
    REQUIRE(s.append({entry(2, 2)}).ok());
    CHECK(s.last_index() == LogIndex(2));
    CHECK(s.term(LogIndex(2)).value() == Term(2));
    CHECK(s.term(LogIndex(3)).error().code == Code::not_found);
  }

  TEST_CASE("compact.needs_a_snapshot_and_keeps_the_term") {
    MemoryStorage s;
    REQUIRE(s.append({entry(1, 1), entry(1, 2), entry(2, 3)}).ok());
    CHECK(s.compact(LogIndex(2)).error().code == Code::failed_precondition);
    REQUIRE(
        s.create_snapshot(SnapshotMeta{LogIndex(2), Term(1), {}}, "x").ok());
    REQUIRE(s.compact(LogIndex(2)).ok());
    CHECK(s.first_index() == LogIndex(3));
    CHECK(s.term(LogIndex(2)).value() == Term(1));
    CHECK(s.term(LogIndex(1)).error().code == Code::not_found);
    CHECK(s.entries(LogIndex(2), LogIndex(4), 100).error().code ==
          Code::not_found);
    CHECK(s.entries(LogIndex(3), LogIndex(4), 100).value().size() == 1);
  }

  TEST_CASE("entries.respect_max_bytes_but_return_one") {
    MemoryStorage s;
    REQUIRE(s.append({entry(1, 1), entry(1, 2), entry(1, 3)}).ok());
    CHECK(s.entries(LogIndex(1), LogIndex(4), 0).value().size() == 1);
    CHECK(s.entries(LogIndex(1), LogIndex(4), 1000).value().size() == 3);
  }

  TEST_CASE("apply_snapshot.replaces_the_log") {
    MemoryStorage s;
    REQUIRE(s.append({entry(1, 1), entry(1, 2)}).ok());
    REQUIRE(s.apply_snapshot(Snapshot{{LogIndex(5), Term(3), {}}, "s"}).ok());
    CHECK(s.first_index() == LogIndex(6));
    CHECK(s.last_index() == LogIndex(5));
    CHECK(s.term(LogIndex(5)).value() == Term(3));
    CHECK(s.snapshot().value().data == "s");
  }

  TEST_CASE("conf_change.round_trips") {
    const ConfChange cc{ConfChangeType::promote, NodeId(0x0102030405060708)};
    CHECK(decode_conf_change(encode_conf_change(cc)).value() == cc);
    CHECK(decode_conf_change("x").error().code == Code::corruption);
  }
}

}  // namespace nw::raft
