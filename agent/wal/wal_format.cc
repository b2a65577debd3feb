#include "agent/wal/wal_format.h"

#include <charconv>
#include <cstdio>

#include "agent/raft/byte_io.h"
#include "common/base/crc32c.h"

namespace nw::wal {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::get_u32;
using raft::LogIndex;
using raft::NodeId;
using raft::put_u32;
using raft::put_u64;
using raft::put_u8;
using raft::Term;
// The cursor every payload decoder below reads with.
using Reader = raft::ByteReader;

void append_frame(std::string* out, RecordType type, std::string_view payload) {
  const char type_byte = static_cast<char>(type);
  std::uint32_t crc = crc32c(&type_byte, 1);
  crc = crc32c_extend(crc, payload.data(), payload.size());
  const std::size_t start = out->size();
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc);
  put_u8(out, static_cast<std::uint8_t>(type));
  put_u32(out, crc32c(out->data() + start, 9));
  out->append(payload);
}

bool valid_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(RecordType::checkpoint) &&
         t <= static_cast<std::uint8_t>(RecordType::compact);
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
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

void append_checkpoint(std::string* out, const Checkpoint& cp) {
  std::string p;
  put_u64(&p, cp.base_index.value());
  put_u64(&p, cp.base_term.value());
  put_u64(&p, cp.last_index.value());
  put_u64(&p, cp.hard_state.term.value());
  put_u64(&p, cp.hard_state.vote.value());
  put_u64(&p, cp.hard_state.commit.value());
  put_u64(&p, cp.snapshot_index.value());
  put_u64(&p, cp.snapshot_term.value());
  append_frame(out, RecordType::checkpoint, p);
}

void append_entries(std::string* out, const std::vector<Entry>& ents) {
  NW_ASSERT(!ents.empty(), "append_entries: no entries");
  std::string p;
  put_u64(&p, ents.front().index.value());
  put_u32(&p, static_cast<std::uint32_t>(ents.size()));
  for (const Entry& e : ents) {
    put_u64(&p, e.term.value());
    put_u8(&p, static_cast<std::uint8_t>(e.type));
    put_u32(&p, static_cast<std::uint32_t>(e.data.size()));
    p.append(e.data);
  }
  append_frame(out, RecordType::append, p);
}

void append_hard_state(std::string* out, const raft::HardState& hs) {
  std::string p;
  put_u64(&p, hs.term.value());
  put_u64(&p, hs.vote.value());
  put_u64(&p, hs.commit.value());
  append_frame(out, RecordType::hard_state, p);
}

void append_snapshot(std::string* out, const SnapshotRecord& rec) {
  std::string p;
  put_u64(&p, rec.index.value());
  put_u64(&p, rec.term.value());
  put_u8(&p, rec.replaces_log ? 1 : 0);
  append_frame(out, RecordType::snapshot, p);
}

void append_compact(std::string* out, const CompactRecord& rec) {
  std::string p;
  put_u64(&p, rec.up_to.value());
  put_u64(&p, rec.term.value());
  append_frame(out, RecordType::compact, p);
}

std::optional<Checkpoint> decode_checkpoint(std::string_view payload) {
  Reader r(payload);
  Checkpoint cp;
  if (!r.strong(&cp.base_index) || !r.strong(&cp.base_term) ||
      !r.strong(&cp.last_index) || !r.strong(&cp.hard_state.term) ||
      !r.strong(&cp.hard_state.vote) || !r.strong(&cp.hard_state.commit) ||
      !r.strong(&cp.snapshot_index) || !r.strong(&cp.snapshot_term) ||
      !r.done()) {
    return std::nullopt;
  }
  return cp;
}

std::optional<std::vector<Entry>> decode_entries(std::string_view payload) {
  Reader r(payload);
  LogIndex first;
  std::uint32_t count = 0;
  if (!r.strong(&first) || !r.u32(&count) || count == 0 ||
      first == LogIndex(0)) {
    return std::nullopt;
  }
  std::vector<Entry> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    Entry e;
    std::uint8_t type = 0;
    std::uint32_t len = 0;
    std::string_view data;
    if (!r.strong(&e.term) || !r.u8(&type) || !r.u32(&len) ||
        !r.bytes(len, &data)) {
      return std::nullopt;
    }
    if (type > static_cast<std::uint8_t>(EntryType::conf_change)) {
      return std::nullopt;
    }
    e.index = first + i;
    e.type = static_cast<EntryType>(type);
    e.data.assign(data);
    out.push_back(std::move(e));
  }
  if (!r.done()) return std::nullopt;
  return out;
}

std::optional<raft::HardState> decode_hard_state(std::string_view payload) {
  Reader r(payload);
  raft::HardState hs;
  if (!r.strong(&hs.term) || !r.strong(&hs.vote) || !r.strong(&hs.commit) ||
      !r.done()) {
    return std::nullopt;
  }
  return hs;
}

std::optional<SnapshotRecord> decode_snapshot(std::string_view payload) {
  Reader r(payload);
  SnapshotRecord rec;
  std::uint8_t flags = 0;
  if (!r.strong(&rec.index) || !r.strong(&rec.term) || !r.u8(&flags) ||
      !r.done() || flags > 1 || rec.index == LogIndex(0)) {
    return std::nullopt;
  }
  rec.replaces_log = flags == 1;
  return rec;
}

std::optional<CompactRecord> decode_compact(std::string_view payload) {
  Reader r(payload);
  CompactRecord rec;
  if (!r.strong(&rec.up_to) || !r.strong(&rec.term) || !r.done()) {
    return std::nullopt;
  }
  return rec;
}

std::string encode_segment_header(std::uint64_t seq) {
  std::string out(kSegmentMagic);
  put_u32(&out, kFormatVersion);
  put_u64(&out, seq);
  put_u32(&out, crc32c(out.data(), out.size()));
  return out;
}

std::optional<std::uint64_t> decode_segment_header(std::string_view file) {
  if (file.size() < kSegmentHeaderSize) return std::nullopt;
  if (file.substr(0, 4) != kSegmentMagic) return std::nullopt;
  if (get_u32(file, 16) != crc32c(file.data(), 16)) return std::nullopt;
  if (get_u32(file, 4) != kFormatVersion) return std::nullopt;
  Reader r(file.substr(8, 8));
  std::uint64_t seq = 0;
  (void)r.u64(&seq);
  return seq;
}

Frame read_frame(std::string_view file, std::size_t pos) {
  Frame f;
  if (pos > file.size() || file.size() - pos < kRecordHeaderSize) {
    f.status = FrameStatus::truncated;
    return f;
  }
  const std::uint32_t len = get_u32(file, pos);
  const std::uint32_t crc = get_u32(file, pos + 4);
  const auto type = static_cast<std::uint8_t>(file[pos + 8]);
  if (get_u32(file, pos + 9) != crc32c(file.data() + pos, 9) ||
      len > kMaxRecordPayload || !valid_type(type)) {
    f.status = FrameStatus::bad_header;
    return f;
  }
  if (file.size() - pos - kRecordHeaderSize < len) {
    f.status = FrameStatus::truncated;
    return f;
  }
  std::string_view payload = file.substr(pos + kRecordHeaderSize, len);
  const char type_byte = static_cast<char>(type);
  if (crc32c_extend(crc32c(&type_byte, 1), payload.data(), payload.size()) !=
      crc) {
    f.status = FrameStatus::bad_crc;
    return f;
  }
  f.status = FrameStatus::ok;
  f.type = static_cast<RecordType>(type);
  f.payload = payload;
  f.size = kRecordHeaderSize + len;
  return f;
}

std::string_view describe(FrameStatus s) {
  switch (s) {
    case FrameStatus::ok:
      return "valid record";
    case FrameStatus::truncated:
      return "record cut short by the end of the file";
    case FrameStatus::bad_header:
      return "record header CRC mismatch";
    case FrameStatus::bad_crc:
      return "record payload CRC mismatch";
  }
  return "unknown";
}

std::string encode_snapshot_file(const raft::SnapshotMeta& meta,
                                 std::string_view data) {
  std::string out(kSnapshotMagic);
  put_u32(&out, kFormatVersion);
  put_u64(&out, meta.index.value());
  put_u64(&out, meta.term.value());
  put_node_set(&out, meta.membership.voters);
  put_node_set(&out, meta.membership.learners);
  put_u64(&out, data.size());
  out.append(data);
  put_u32(&out, crc32c(out.data(), out.size()));
  return out;
}

Result<raft::Snapshot> decode_snapshot_file(std::string_view file,
                                            const std::string& path) {
  auto bad = [&](std::size_t offset, std::string_view why) {
    return Error(Code::corruption,
                 "snapshot file " + path + " is damaged at byte offset " +
                     std::to_string(offset) + ": " + std::string(why),
                 "restore the data directory from a backup, or wipe this "
                 "node's controller directory and re-add the node so that "
                 "it receives a snapshot from the leader",
                 "wal");
  };
  if (file.size() < 4 + 4 + 4) return bad(0, "file too short");
  // Check the CRC first: every field below is then known to be as written.
  const std::size_t body = file.size() - 4;
  if (get_u32(file, body) != crc32c(file.data(), body)) {
    return bad(body, "CRC mismatch");
  }
  if (file.substr(0, 4) != kSnapshotMagic) return bad(0, "bad magic");
  if (get_u32(file, 4) != kFormatVersion) {
    return bad(4, "unknown format version " + std::to_string(get_u32(file, 4)));
  }
  Reader r(file.substr(8, body - 8));
  raft::Snapshot snap;
  std::uint64_t len = 0;
  std::string_view data;
  if (!r.strong(&snap.meta.index) || !r.strong(&snap.meta.term) ||
      !read_node_set(&r, &snap.meta.membership.voters) ||
      !read_node_set(&r, &snap.meta.membership.learners) || !r.u64(&len) ||
      !r.bytes(len, &data) || !r.done()) {
    return bad(8 + r.pos(), "malformed header");
  }
  snap.data.assign(data);
  return snap;
}

std::string segment_name(std::uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "wal-%020llu.log",
                static_cast<unsigned long long>(seq));
  return buf;
}

std::optional<std::uint64_t> parse_segment_name(std::string_view name) {
  constexpr std::string_view kPrefix = "wal-";
  constexpr std::string_view kSuffix = ".log";
  if (name.size() != kPrefix.size() + 20 + kSuffix.size() ||
      name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  return parse_u64(name.substr(kPrefix.size(), 20));
}

std::string snapshot_name(Term term, LogIndex index) {
  return "snapshot-" + std::to_string(term.value()) + "-" +
         std::to_string(index.value());
}

std::optional<std::pair<Term, LogIndex>> parse_snapshot_name(
    std::string_view name) {
  constexpr std::string_view kPrefix = "snapshot-";
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const auto dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto term = parse_u64(name.substr(0, dash));
  auto index = parse_u64(name.substr(dash + 1));
  if (!term || !index) return std::nullopt;
  // Only the canonical spelling, so that one snapshot has one name.
  if (snapshot_name(Term(*term), LogIndex(*index)) !=
      "snapshot-" + std::string(name)) {
    return std::nullopt;
  }
  return std::make_pair(Term(*term), LogIndex(*index));
}

}  // namespace nw::wal
