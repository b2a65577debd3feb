#include "agent/partition/producer_table.h"

#include <limits>

#include "agent/raft/byte_io.h"

namespace nw::partition {

ProducerTable::Check ProducerTable::check(std::int64_t producer_id,
                                          std::int32_t base_seq,
                                          std::uint32_t count,
                                          std::int64_t pending_last) const {
  (void)count;
  Check c;
  auto it = producers_.find(producer_id);
  std::int64_t last = pending_last;
  if (it != producers_.end()) {
    for (const ProducerBatch& b : it->second.batches) {
      if (b.first_seq == base_seq) {
        c.verdict = Verdict::duplicate;
        c.previous = b;
        return c;
      }
    }
    last = std::max<std::int64_t>(last, it->second.batches.back().last_seq);
  } else if (pending_last < 0) {
    return c;  // unknown producer: any start
  }
  if (base_seq == last + 1) return c;
  c.verdict = Verdict::out_of_order;
  c.expected = last + 1;
  return c;
}

void ProducerTable::apply(std::int64_t producer_id, std::int32_t base_seq,
                          std::uint32_t count, std::uint64_t base_offset) {
  if (producer_id < 0 || count == 0) return;
  const std::int64_t last64 = static_cast<std::int64_t>(base_seq) +
                              static_cast<std::int64_t>(count) - 1;
  const std::int32_t last = static_cast<std::int32_t>(
      std::min<std::int64_t>(last64, std::numeric_limits<std::int32_t>::max()));
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) {
    if (producers_.size() >= kMaxProducers) evict_one();
    it = producers_.emplace(producer_id, State{}).first;
  } else if (it->second.batches.back().last_seq >= base_seq) {
    return;  // replayed (already in a snapshot we restored)
  }
  State& st = it->second;
  st.batches.push_back(ProducerBatch{base_seq, last, base_offset, count});
  while (st.batches.size() > kKeepBatches) st.batches.pop_front();
  st.touched = ++counter_;
}

std::int64_t ProducerTable::last_seq(std::int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? -1 : it->second.batches.back().last_seq;
}

void ProducerTable::evict_one() {
  auto oldest = producers_.begin();
  for (auto it = producers_.begin(); it != producers_.end(); ++it) {
    if (it->second.touched < oldest->second.touched) oldest = it;
  }
  if (oldest != producers_.end()) producers_.erase(oldest);
}

// Layout: u32 producer count, then per producer (ascending id): u64 id,
// u8 batch count (1..kKeepBatches), then per batch: u32 first seq, u32 last
// seq, u64 base offset, u32 count. Little endian.
std::string ProducerTable::encode() const {
  std::string out;
  raft::put_u32(&out, static_cast<std::uint32_t>(producers_.size()));
  for (const auto& [id, st] : producers_) {
    raft::put_u64(&out, static_cast<std::uint64_t>(id));
    raft::put_u8(&out, static_cast<std::uint8_t>(st.batches.size()));
    for (const ProducerBatch& b : st.batches) {
      raft::put_u32(&out, static_cast<std::uint32_t>(b.first_seq));
      raft::put_u32(&out, static_cast<std::uint32_t>(b.last_seq));
      raft::put_u64(&out, b.base_offset);
      raft::put_u32(&out, b.count);
    }
  }
  return out;
}

Result<ProducerTable> ProducerTable::decode(std::string_view bytes) {
  auto bad = [](const char* why) {
    return Error(Code::corruption, std::string("producer table: ") + why, {},
                 "partition");
  };
  raft::ByteReader r(bytes);
  std::uint32_t n = 0;
  if (!r.u32(&n)) return bad("truncated");
  if (n > kMaxProducers) return bad("too many producers");
  ProducerTable t;
  std::int64_t prev = std::numeric_limits<std::int64_t>::min();
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint64_t id = 0;
    std::uint8_t nb = 0;
    if (!r.u64(&id) || !r.u8(&nb)) return bad("truncated");
    const auto sid = static_cast<std::int64_t>(id);
    if (sid < 0 || sid <= prev) return bad("producer ids not ascending");
    if (nb == 0 || nb > kKeepBatches) return bad("bad batch count");
    prev = sid;
    State st;
    for (std::uint8_t k = 0; k < nb; ++k) {
      std::uint32_t first = 0, last = 0, count = 0;
      std::uint64_t base = 0;
      if (!r.u32(&first) || !r.u32(&last) || !r.u64(&base) || !r.u32(&count))
        return bad("truncated");
      st.batches.push_back(ProducerBatch{static_cast<std::int32_t>(first),
                                         static_cast<std::int32_t>(last), base,
                                         count});
    }
    st.touched = ++t.counter_;
    t.producers_.emplace(sid, std::move(st));
  }
  if (!r.done()) return bad("trailing bytes");
  return t;
}

}  // namespace nw::partition
