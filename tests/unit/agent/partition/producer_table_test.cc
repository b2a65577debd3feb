#include "agent/partition/producer_table.h"

#include <doctest/doctest.h>

namespace nw::partition {

TEST_SUITE("partition.producer_table") {
  using V = ProducerTable::Verdict;

  TEST_CASE("check.unknown_producer_may_start_anywhere") {
    ProducerTable t;
    CHECK(t.check(7, 0, 10).verdict == V::append);
    CHECK(t.check(7, 500, 10).verdict == V::append);
  }

  TEST_CASE("check.next_sequence_is_appended") {
    ProducerTable t;
    t.apply(7, 0, 10, 100);
    CHECK(t.last_seq(7) == 9);
    CHECK(t.check(7, 10, 5).verdict == V::append);
  }

  TEST_CASE("check.retry_of_a_kept_batch_is_a_duplicate_with_its_offsets") {
    ProducerTable t;
    t.apply(7, 0, 10, 100);
    t.apply(7, 10, 5, 110);
    const ProducerTable::Check c = t.check(7, 0, 10);
    CHECK(c.verdict == V::duplicate);
    CHECK(c.previous.base_offset == 100);
    CHECK(c.previous.count == 10);
    CHECK(t.check(7, 10, 5).previous.base_offset == 110);
  }

  TEST_CASE("check.gap_or_old_unknown_sequence_is_out_of_order") {
    ProducerTable t;
    t.apply(7, 0, 10, 100);
    ProducerTable::Check gap = t.check(7, 11, 1);
    CHECK(gap.verdict == V::out_of_order);
    CHECK(gap.expected == 10);
    // A sequence inside a batch but not at its start.
    CHECK(t.check(7, 5, 1).verdict == V::out_of_order);
  }

  TEST_CASE("check.pending_batches_move_the_expected_sequence") {
    ProducerTable t;
    t.apply(7, 0, 10, 100);
    CHECK(t.check(7, 20, 5, 19).verdict == V::append);
    CHECK(t.check(7, 10, 5, 19).verdict == V::out_of_order);
    // Unknown producer with a pending batch: it must follow it.
    CHECK(t.check(8, 5, 1, 4).verdict == V::append);
    CHECK(t.check(8, 6, 1, 4).verdict == V::out_of_order);
  }

  TEST_CASE("apply.replay_is_ignored") {
    ProducerTable t;
    t.apply(7, 0, 10, 100);
    t.apply(7, 10, 10, 110);
    ProducerTable copy = t;
    t.apply(7, 0, 10, 100);  // replay after a snapshot restore
    CHECK(t == copy);
  }

  TEST_CASE("apply.keeps_only_the_last_batches") {
    ProducerTable t;
    for (int i = 0; i < 20; ++i) {
      t.apply(7, i * 10, 10, static_cast<std::uint64_t>(i) * 10);
    }
    CHECK(t.check(7, 190, 10).verdict == V::duplicate);
    CHECK(t.check(7, 0, 10).verdict == V::out_of_order);
  }

  TEST_CASE("apply.evicts_the_least_recent_producer_at_the_limit") {
    ProducerTable t;
    for (std::size_t i = 0; i < ProducerTable::kMaxProducers; ++i) {
      t.apply(static_cast<std::int64_t>(i), 0, 1, i);
    }
    t.apply(0, 1, 1, 99999);  // producer 0 is now the most recent
    t.apply(1000000, 0, 1, 100000);
    CHECK(t.size() == ProducerTable::kMaxProducers);
    CHECK(t.last_seq(0) == 1);
    CHECK(t.last_seq(1) == -1);  // evicted
  }

  TEST_CASE("encode.round_trips_and_rejects_damage") {
    ProducerTable t;
    t.apply(7, 0, 10, 100);
    t.apply(7, 10, 5, 110);
    t.apply(9, 3, 1, 115);
    const std::string bytes = t.encode();
    Result<ProducerTable> back = ProducerTable::decode(bytes);
    REQUIRE(back.ok());
    CHECK(*back == t);
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      CHECK_FALSE(ProducerTable::decode(bytes.substr(0, cut)).ok());
    }
    CHECK_FALSE(ProducerTable::decode(bytes + "x").ok());
    CHECK(ProducerTable::decode(ProducerTable{}.encode()).ok());
  }
}

}  // namespace nw::partition
