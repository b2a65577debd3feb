#include "agent/storage/segment_format.h"

#include <charconv>
#include <cstdio>
#include <set>

#include "agent/raft/byte_io.h"
#include "agent/storage/segment_log.h"
#include "common/base/crc32c.h"

namespace nw::storage {
namespace {

using raft::get_u32;
using raft::NodeId;
using raft::put_u32;
using raft::put_u64;
using Reader = raft::ByteReader;

constexpr std::string_view kDomain = "storage";

std::uint64_t get_u64(std::string_view s, std::size_t pos) {
  return std::uint64_t{get_u32(s, pos)} |
         (std::uint64_t{get_u32(s, pos + 4)} << 32);
}

void put_crc(std::string* out) { put_u32(out, crc32c(*out)); }

bool crc_ok(std::string_view s, std::size_t crc_pos) {
  return get_u32(s, crc_pos) == crc32c(s.data(), crc_pos);
}

void put_node_set(std::string* out, const std::set<NodeId>& ids) {
  put_u32(out, static_cast<std::uint32_t>(ids.size()));
  for (NodeId id : ids) put_u64(out, id.value());
}

bool read_node_set(Reader* r, std::set<NodeId>* ids) {
  std::uint32_t n = 0;
  if (!r->u32(&n)) return false;
  for (std::uint32_t i = 0; i < n; ++i) {
    NodeId id;
    if (!r->strong(&id) || !ids->insert(id).second) return false;
  }
  return true;
}

}  // namespace

std::string encode_segment_header(const SegmentHeader& h) {
  std::string out(kSegmentMagic);
  put_u32(&out, kFormatVersion);
  put_u64(&out, h.first_index);
  put_u64(&out, h.base_offset);
  put_u64(&out, static_cast<std::uint64_t>(h.created_ms));
  put_crc(&out);
  return out;
}

std::optional<SegmentHeader> decode_segment_header(std::string_view file) {
  if (file.size() < kSegmentHeaderSize) return std::nullopt;
  if (file.substr(0, 4) != kSegmentMagic || !crc_ok(file, 32) ||
      get_u32(file, 4) != kFormatVersion) {
    return std::nullopt;
  }
  SegmentHeader h;
  h.first_index = get_u64(file, 8);
  h.base_offset = get_u64(file, 16);
  h.created_ms = static_cast<std::int64_t>(get_u64(file, 24));
  return h;
}

std::string segment_file_name(std::uint64_t first_index,
                              std::string_view suffix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu",
                static_cast<unsigned long long>(first_index));
  return std::string(buf) + std::string(suffix);
}

std::optional<std::uint64_t> parse_segment_file_name(std::string_view name,
                                                     std::string_view suffix) {
  if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, v);
  if (ec != std::errc() || p != name.data() + 20) return std::nullopt;
  return v;
}

void append_offset_entry(std::string* out, const IndexPoint& p) {
  put_u64(out, p.offset);
  put_u64(out, p.position);
}

void append_time_entry(std::string* out, const IndexPoint& p) {
  put_u64(out, static_cast<std::uint64_t>(p.max_ts));
  put_u64(out, p.offset);
}

std::string encode_hard_state_slot(std::uint64_t seq,
                                   const raft::HardState& hs) {
  std::string out("NWHS");
  put_u32(&out, kFormatVersion);
  put_u64(&out, seq);
  put_u64(&out, hs.term.value());
  put_u64(&out, hs.vote.value());
  put_u64(&out, hs.commit.value());
  put_crc(&out);
  put_u32(&out, 0);
  return out;
}

HardStateSlots decode_hard_state_file(std::string_view file) {
  HardStateSlots best;
  for (std::size_t pos : {std::size_t{0}, kHardStateSlot1Pos}) {
    if (file.size() < pos + kHardStateSlotSize) continue;
    std::string_view slot = file.substr(pos, kHardStateSlotSize);
    if (slot.substr(0, 4) != "NWHS" || !crc_ok(slot, 40) ||
        get_u32(slot, 4) != kFormatVersion) {
      continue;
    }
    const std::uint64_t seq = get_u64(slot, 8);
    if (seq == 0 || seq <= best.seq) continue;
    best.seq = seq;
    best.hs.term = raft::Term(get_u64(slot, 16));
    best.hs.vote = raft::NodeId(get_u64(slot, 24));
    best.hs.commit = raft::LogIndex(get_u64(slot, 32));
  }
  return best;
}

std::string encode_snapshot_file(const raft::SnapshotMeta& meta,
                                 std::string_view data, bool installed) {
  std::string out(kSnapshotMagic);
  put_u32(&out, kFormatVersion);
  put_u32(&out, installed ? 1 : 0);
  put_u64(&out, meta.index.value());
  put_u64(&out, meta.term.value());
  put_node_set(&out, meta.membership.voters);
  put_node_set(&out, meta.membership.learners);
  put_u64(&out, data.size());
  out.append(data);
  put_crc(&out);
  return out;
}

Result<SnapshotFile> decode_snapshot_file(std::string_view file,
                                          const std::string& path) {
  auto bad = [&](std::size_t pos, std::string_view why) {
    return Error(Code::corruption,
                 "snapshot file " + path + ": " + std::string(why) +
                     " at byte " + std::to_string(pos),
                 "the partition replica is damaged; delete its directory "
                 "so that it is rebuilt from the other replicas",
                 kDomain);
  };
  if (file.size() < 16) return bad(0, "file too short");
  const std::size_t body = file.size() - 4;
  if (!crc_ok(file, body)) return bad(body, "crc mismatch");
  if (file.substr(0, 4) != kSnapshotMagic) return bad(0, "bad magic");
  if (get_u32(file, 4) != kFormatVersion) {
    return bad(4, "unknown format version");
  }
  const std::uint32_t flags = get_u32(file, 8);
  if (flags > 1) return bad(8, "unknown flags");
  Reader r(file.substr(12, body - 12));
  SnapshotFile out;
  out.installed = flags == 1;
  raft::Snapshot& snap = out.snap;
  std::uint64_t len = 0;
  std::string_view data;
  if (!r.strong(&snap.meta.index) || !r.strong(&snap.meta.term) ||
      !read_node_set(&r, &snap.meta.membership.voters) ||
      !read_node_set(&r, &snap.meta.membership.learners) || !r.u64(&len) ||
      !r.bytes(len, &data) || !r.done()) {
    return bad(12 + r.pos(), "malformed header");
  }
  snap.data.assign(data);
  return out;
}

std::string encode_start_file(const StartPoint& s) {
  std::string out(kStartMagic);
  put_u32(&out, kFormatVersion);
  put_u64(&out, s.first_index.value());
  put_u64(&out, s.prev_term.value());
  put_u64(&out, s.prev_next_offset);
  put_crc(&out);
  return out;
}

std::optional<StartPoint> decode_start_file(std::string_view file) {
  if (file.size() != kStartFileSize || file.substr(0, 4) != kStartMagic ||
      !crc_ok(file, 32) || get_u32(file, 4) != kFormatVersion) {
    return std::nullopt;
  }
  StartPoint s;
  s.first_index = raft::LogIndex(get_u64(file, 8));
  s.prev_term = raft::Term(get_u64(file, 16));
  s.prev_next_offset = get_u64(file, 24);
  if (s.first_index == raft::LogIndex(0)) return std::nullopt;
  return s;
}

// ---- segment_log.h's snapshot data convention ----

std::string encode_snapshot_data(std::uint64_t next_offset,
                                 std::string_view rest) {
  std::string out;
  put_u64(&out, next_offset);
  out.append(rest);
  return out;
}

Result<std::pair<std::uint64_t, std::string_view>> decode_snapshot_data(
    std::string_view data) {
  if (data.size() < 8) {
    return Error(Code::corruption,
                 "snapshot data: " + std::to_string(data.size()) +
                     " bytes, shorter than its 8-byte next offset",
                 {}, kDomain);
  }
  return std::make_pair(get_u64(data, 0), data.substr(8));
}

}  // namespace nw::storage
