#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nw::partition {

// One batch an idempotent producer wrote: its sequence range and where it
// landed.
struct ProducerBatch {
  std::int32_t first_seq = 0;
  std::int32_t last_seq = 0;
  std::uint64_t base_offset = 0;
  std::uint32_t count = 0;
  bool operator==(const ProducerBatch&) const = default;
};

// The idempotence state of one partition: for each producer id, the last
// kKeepBatches batches it wrote, in log order. It is a function of the
// committed log (apply() is called for every committed batch with a
// producer id, in order), so every replica holds the same table, and a new
// leader that has applied its predecessors' entries decides duplicates
// exactly as the old one would have.
//
// The leader asks check() before it proposes a batch: a batch whose first
// sequence matches one of the kept batches is a duplicate (answered with
// the offsets it got then); a batch that starts right after the last kept
// one is new; anything else is out of order. A producer id the table does
// not know may start at any sequence (its state may have been evicted).
//
// At most kMaxProducers ids are kept; the one that wrote least recently is
// evicted first.
// Threads: none; the owner serializes access.
class ProducerTable {
 public:
  static constexpr std::size_t kKeepBatches = 8;
  static constexpr std::size_t kMaxProducers = 10000;

  enum class Verdict { append, duplicate, out_of_order };
  struct Check {
    Verdict verdict = Verdict::append;
    ProducerBatch previous;  // for duplicate: what the batch got then
    // For out_of_order: the sequence expected next.
    std::int64_t expected = 0;
  };

  // What to do with a batch of `count` records from `producer_id` starting
  // at `base_seq`, given the batches applied so far and `pending_last`, the
  // last sequence of batches proposed but not applied yet (-1 for none).
  Check check(std::int64_t producer_id, std::int32_t base_seq,
              std::uint32_t count, std::int64_t pending_last = -1) const;
  // A committed batch. A batch at or below the last kept sequence (a
  // replay after a snapshot) changes nothing.
  void apply(std::int64_t producer_id, std::int32_t base_seq,
             std::uint32_t count, std::uint64_t base_offset);
  // The last sequence applied for `producer_id`, -1 when unknown.
  std::int64_t last_seq(std::int64_t producer_id) const;

  std::size_t size() const { return producers_.size(); }

  // The table as bytes (docs/formats/segment.md, "Partition snapshot").
  std::string encode() const;
  // Errors: Code::corruption for truncated or inconsistent bytes.
  static Result<ProducerTable> decode(std::string_view bytes);

  bool operator==(const ProducerTable& o) const {
    return producers_ == o.producers_;
  }

 private:
  struct State {
    std::deque<ProducerBatch> batches;  // oldest first, never empty
    std::uint64_t touched = 0;          // apply counter when last written
    bool operator==(const State& o) const { return batches == o.batches; }
  };
  void evict_one();

  std::map<std::int64_t, State> producers_;
  std::uint64_t counter_ = 0;
};

}  // namespace nw::partition
