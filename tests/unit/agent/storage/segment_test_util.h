#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/raft/types.h"
#include "agent/storage/segment_log.h"
#include "common/records/record_batch.h"
#include "tests/support/temp_dir.h"

// Helpers for the segment log tests: options with an injected clock,
// batches and entries, and damaging real files.
namespace nw::storage::test {

using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::LogIndex;
using raft::NodeId;
using raft::Term;

// A settable wall clock for segment age and retention.
struct FakeClock {
  std::shared_ptr<std::int64_t> now =
      std::make_shared<std::int64_t>(1'700'000'000'000);
  std::function<std::int64_t()> fn() const {
    auto p = now;
    return [p] { return *p; };
  }
  void advance(std::int64_t ms) const { *now += ms; }
};

inline SegmentLogOptions options(const std::string& dir,
                                 const FakeClock& clock = FakeClock(),
                                 std::uint64_t segment_bytes = 1 << 20) {
  SegmentLogOptions o;
  o.dir = dir;
  o.segment_bytes = segment_bytes;
  o.segment_ms = 0;
  o.index_interval_bytes = 256;
  o.fsync = false;
  o.now_ms = clock.fn();
  return o;
}

inline std::unique_ptr<SegmentLog> open_ok(const SegmentLogOptions& o) {
  auto r = SegmentLog::open(o);
  if (!r.ok()) FAIL("open " << o.dir << ": " << r.error().to_string());
  return std::move(r).value();
}

// A data batch of `n` records "<tag>-<k>" with value_bytes-long values,
// timestamps ts, ts+1, ...
inline std::string batch(std::uint32_t n, const std::string& tag = "r",
                         std::int64_t ts = 1'700'000'000'000,
                         std::size_t value_bytes = 16) {
  std::vector<records::Record> rs;
  for (std::uint32_t k = 0; k < n; ++k) {
    records::Record r;
    r.key = tag + "-" + std::to_string(k);
    r.value = std::string(value_bytes, static_cast<char>('a' + k % 26));
    r.timestamp_ms = ts + k;
    rs.push_back(std::move(r));
  }
  return records::build_batch(rs);
}

inline Entry data_entry(std::uint64_t term, std::uint64_t index,
                        std::string data) {
  return Entry{Term(term), LogIndex(index), EntryType::normal, std::move(data)};
}

inline Entry noop(std::uint64_t term, std::uint64_t index) {
  return Entry{Term(term), LogIndex(index), EntryType::normal, {}};
}

inline Entry conf(std::uint64_t term, std::uint64_t index) {
  return Entry{Term(term), LogIndex(index), EntryType::conf_change,
               raft::encode_conf_change(
                   {raft::ConfChangeType::add_learner, NodeId(index)})};
}

inline raft::SnapshotMeta meta(LogIndex index, std::uint64_t term) {
  raft::SnapshotMeta m;
  m.index = index;
  m.term = Term(term);
  return m;
}
inline raft::SnapshotMeta meta(std::uint64_t index, std::uint64_t term) {
  return meta(LogIndex(index), term);
}
inline raft::Snapshot make_snapshot(raft::SnapshotMeta m, std::string data) {
  raft::Snapshot s;
  s.meta = std::move(m);
  s.data = std::move(data);
  return s;
}

// Appends `count` entries of one batch of `records` records each.
inline void append_batches(SegmentLog* log, std::uint64_t term,
                           std::uint64_t count, std::uint32_t records = 3,
                           std::size_t value_bytes = 16,
                           std::int64_t ts = 1'700'000'000'000) {
  std::vector<Entry> es;
  const std::uint64_t from = log->last_index().value() + 1;
  for (std::uint64_t k = 0; k < count; ++k) {
    es.push_back(data_entry(
        term, from + k,
        batch(records, "e" + std::to_string(from + k), ts, value_bytes)));
  }
  REQUIRE(log->append(es).ok());
}

// The data with the stamped fields (base offset, raft index and term)
// zeroed, as the producer sent it.
inline std::string unstamped(std::string data) {
  if (data.size() >= records::kHeaderSize) {
    records::stamp_batch(&data, 0, 0, 0);
  }
  return data;
}

inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& de : std::filesystem::directory_iterator(dir)) {
    out.push_back(de.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline void copy_dir(const std::string& from, const std::string& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

inline void flip_byte(const std::string& p, std::uint64_t offset,
                      char mask = 0x5a) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ mask));
  REQUIRE(f.good());
}

inline records::BatchInfo info_of(const std::string& data) {
  auto info = records::read_batch_info(data);
  REQUIRE(info.ok());
  return *info;
}

// The base offsets of the batches of a fetch body.
inline std::vector<std::uint64_t> bases(const std::string& body) {
  auto parts = records::split_batches(body);
  REQUIRE(parts.ok());
  std::vector<std::uint64_t> out;
  for (std::string_view b : *parts) {
    out.push_back(info_of(std::string(b)).base_offset);
  }
  return out;
}

inline std::uint64_t u64_at(const std::string& s, std::size_t pos) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<std::uint8_t>(s[pos + i]);
  }
  return v;
}

}  // namespace nw::storage::test
