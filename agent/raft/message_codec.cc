#include "agent/raft/message_codec.h"

#include <array>
#include <cstddef>
#include <limits>
#include <set>
#include <utility>

#include "agent/raft/byte_io.h"
#include "common/base/assert.h"

namespace nw::raft {
namespace {

// Header flag bits (byte 2); the others are reserved and must be 0.
constexpr std::uint8_t kFlagReject = 1u << 0;
constexpr std::uint8_t kFlagTransfer = 1u << 1;
constexpr std::uint8_t kFlagEntries = 1u << 2;
constexpr std::uint8_t kFlagSnapshot = 1u << 3;
constexpr std::uint8_t kFlagSnapshotDone = 1u << 4;
constexpr std::uint8_t kKnownFlags = kFlagReject | kFlagTransfer |
                                     kFlagEntries | kFlagSnapshot |
                                     kFlagSnapshotDone;

// The optional u64 fields, in the order of their presence bits (byte 3).
constexpr std::size_t kFieldCount = 8;
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "from",  "to",     "term",        "log_term",
    "index", "commit", "reject_hint", "context",
};

// The smallest encoded entry (term, type, data length, no data) and node
// id: the decoder checks a count against these before reserving anything.
constexpr std::size_t kMinEntrySize = 8 + 1 + 4;
constexpr std::size_t kNodeIdSize = 8;

constexpr auto kLastMessageType =
    static_cast<std::uint8_t>(MessageType::snapshot_resp);
constexpr auto kLastEntryType =
    static_cast<std::uint8_t>(EntryType::conf_change);

std::array<std::uint64_t, kFieldCount> field_values(const Message& m) {
  return {m.from.value(),        m.to.value(),    m.term.value(),
          m.log_term.value(),    m.index.value(), m.commit.value(),
          m.reject_hint.value(), m.context};
}

void put_node_set(std::string* out, const std::set<NodeId>& ids) {
  put_u32(out, static_cast<std::uint32_t>(ids.size()));
  for (NodeId id : ids) put_u64(out, id.value());
}

Error bad(std::string reason) {
  return Error(Code::invalid_argument, "raft message: " + std::move(reason), {},
               "raft");
}

Error truncated(const std::string& where) {
  return bad("truncated in " + where);
}

// A count of `count` items of at least `min_size` bytes each that cannot
// fit in what is left: refused before anything is allocated for them.
Error count_too_large(const std::string& what, std::uint64_t count,
                      std::size_t min_size, std::size_t left) {
  return truncated(what + ": " + std::to_string(count) + " need at least " +
                   std::to_string(count * min_size) + " bytes, " +
                   std::to_string(left) + " left");
}

Status decode_entries(ByteReader* r, std::vector<Entry>* out) {
  std::uint32_t count = 0;
  if (!r->u32(&count)) return truncated("entry count");
  if (count == 0) return bad("entries flag set but entry count is 0");
  LogIndex first;
  if (!r->strong(&first)) return truncated("first entry index");
  if (first == LogIndex(0)) return bad("first entry index is 0");
  if (count - 1 > std::numeric_limits<std::uint64_t>::max() - first.value()) {
    return bad("entry indexes overflow");
  }
  if (count > r->remaining() / kMinEntrySize) {
    return count_too_large("entries", count, kMinEntrySize, r->remaining());
  }
  out->reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    // Names the entry in an error; built only when there is one.
    auto at = [i](std::string_view part) {
      return "entry " + std::to_string(i) + " " + std::string(part);
    };
    Entry e;
    e.index = first + i;
    std::uint8_t type = 0;
    std::uint32_t len = 0;
    std::string_view data;
    if (!r->strong(&e.term)) return truncated(at("term"));
    if (!r->u8(&type)) return truncated(at("type"));
    if (type > kLastEntryType) {
      return bad(at("has unknown type ") + std::to_string(type));
    }
    if (!r->u32(&len)) return truncated(at("data length"));
    if (!r->bytes(len, &data)) return truncated(at("data"));
    e.type = static_cast<EntryType>(type);
    e.data.assign(data);
    out->push_back(std::move(e));
  }
  return ok_status();
}

Status decode_node_set(ByteReader* r, const std::string& what,
                       std::set<NodeId>* out) {
  std::uint32_t count = 0;
  if (!r->u32(&count)) return truncated(what + " count");
  if (count > r->remaining() / kNodeIdSize) {
    return count_too_large(what, count, kNodeIdSize, r->remaining());
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    NodeId id;
    if (!r->strong(&id)) return truncated(what);
    if (!out->empty() && id <= *out->rbegin()) {
      return bad(what + " not in strictly ascending order");
    }
    out->insert(out->end(), id);
  }
  return ok_status();
}

Status decode_snapshot(ByteReader* r, Message* m) {
  Snapshot* s = &m->snapshot.emplace();
  if (!r->strong(&s->meta.index)) return truncated("snapshot index");
  if (!r->strong(&s->meta.term)) return truncated("snapshot term");
  NW_RETURN_IF_ERROR(
      decode_node_set(r, "snapshot voters", &s->meta.membership.voters));
  NW_RETURN_IF_ERROR(
      decode_node_set(r, "snapshot learners", &s->meta.membership.learners));
  std::uint64_t len = 0;
  std::string_view data;
  if (!r->u64(&m->snapshot_size)) return truncated("snapshot size");
  if (!r->u64(&m->snapshot_offset)) return truncated("snapshot chunk offset");
  if (!r->u64(&len)) return truncated("snapshot chunk length");
  if (m->snapshot_size > kMaxSnapshotSize) {
    return bad("snapshot size " + std::to_string(m->snapshot_size) +
               " is over the limit of " + std::to_string(kMaxSnapshotSize));
  }
  if (len > m->snapshot_size || m->snapshot_offset > m->snapshot_size - len) {
    return bad("snapshot chunk [" + std::to_string(m->snapshot_offset) + ", +" +
               std::to_string(len) + ") runs past the snapshot size " +
               std::to_string(m->snapshot_size));
  }
  if (!r->bytes(len, &data)) return truncated("snapshot chunk data");
  s->data.assign(data);
  return ok_status();
}

}  // namespace

std::string encode_message(const Message& m) {
  NW_ASSERT(static_cast<std::uint8_t>(m.type) <= kLastMessageType,
            "encode_message: unknown message type");
  const auto values = field_values(m);
  std::uint8_t flags = 0;
  if (m.reject) flags |= kFlagReject;
  if (m.transfer) flags |= kFlagTransfer;
  if (!m.entries.empty()) flags |= kFlagEntries;
  if (m.snapshot.has_value()) flags |= kFlagSnapshot;
  if (m.snapshot_done) flags |= kFlagSnapshotDone;
  if (m.snapshot.has_value()) {
    NW_ASSERT(m.snapshot_size <= kMaxSnapshotSize,
              "encode_message: snapshot over kMaxSnapshotSize");
    NW_ASSERT(
        m.snapshot->data.size() <= m.snapshot_size &&
            m.snapshot_offset <= m.snapshot_size - m.snapshot->data.size(),
        "encode_message: snapshot chunk past the snapshot size");
  } else {
    NW_ASSERT(
        m.snapshot_offset == 0 && m.snapshot_size == 0 && !m.snapshot_done,
        "encode_message: snapshot chunk fields without a snapshot");
  }
  std::uint8_t present = 0;
  std::size_t size = 4;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (values[i] != 0) {
      present |= static_cast<std::uint8_t>(1u << i);
      size += 8;
    }
  }
  if (!m.entries.empty()) size += 4 + 8;
  for (const Entry& e : m.entries) size += kMinEntrySize + e.data.size();
  if (m.snapshot.has_value()) {
    const Membership& ms = m.snapshot->meta.membership;
    size += 8 + 8 + 4 + 4 + 8 + 8 + 8 + kNodeIdSize * ms.voters.size() +
            kNodeIdSize * ms.learners.size() + m.snapshot->data.size();
  }

  std::string out;
  out.reserve(size);
  put_u8(&out, kMessageFormatVersion);
  put_u8(&out, static_cast<std::uint8_t>(m.type));
  put_u8(&out, flags);
  put_u8(&out, present);
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (values[i] != 0) put_u64(&out, values[i]);
  }
  if (!m.entries.empty()) {
    const LogIndex first = m.entries.front().index;
    NW_ASSERT(first != LogIndex(0), "encode_message: entry index 0");
    put_u32(&out, static_cast<std::uint32_t>(m.entries.size()));
    put_u64(&out, first.value());
    for (std::size_t i = 0; i < m.entries.size(); ++i) {
      const Entry& e = m.entries[i];
      NW_ASSERT(e.index == first + i,
                "encode_message: entries are not consecutive");
      NW_ASSERT(static_cast<std::uint8_t>(e.type) <= kLastEntryType,
                "encode_message: unknown entry type");
      NW_ASSERT(e.data.size() <= std::numeric_limits<std::uint32_t>::max(),
                "encode_message: entry data of 4 GiB or more");
      put_u64(&out, e.term.value());
      put_u8(&out, static_cast<std::uint8_t>(e.type));
      put_u32(&out, static_cast<std::uint32_t>(e.data.size()));
      out.append(e.data);
    }
  }
  if (m.snapshot.has_value()) {
    const Snapshot& s = *m.snapshot;
    put_u64(&out, s.meta.index.value());
    put_u64(&out, s.meta.term.value());
    put_node_set(&out, s.meta.membership.voters);
    put_node_set(&out, s.meta.membership.learners);
    put_u64(&out, m.snapshot_size);
    put_u64(&out, m.snapshot_offset);
    put_u64(&out, s.data.size());
    out.append(s.data);
  }
  NW_ASSERT(out.size() == size, "encode_message: size estimate is off");
  return out;
}

Result<Message> decode_message(std::string_view bytes) {
  ByteReader r(bytes);
  std::uint8_t version = 0;
  if (!r.u8(&version)) return truncated("header");
  if (version != kMessageFormatVersion) {
    return Error(Code::invalid_argument,
                 "raft message: unknown format version " +
                     std::to_string(version) + " (this build supports " +
                     std::to_string(kMessageFormatVersion) + ")",
                 "the peer runs an incompatible Nightwatch release; run the "
                 "same release on every agent",
                 "raft");
  }
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::uint8_t present = 0;
  if (!r.u8(&type) || !r.u8(&flags) || !r.u8(&present)) {
    return truncated("header");
  }
  if (type > kLastMessageType) {
    return bad("unknown message type " + std::to_string(type));
  }
  if ((flags & ~kKnownFlags) != 0) {
    return bad("reserved flag bits set in " + std::to_string(flags));
  }
  if ((flags & kFlagSnapshotDone) != 0 && (flags & kFlagSnapshot) == 0) {
    return bad("snapshot done flag set without a snapshot");
  }

  std::array<std::uint64_t, kFieldCount> v{};
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if ((present & (1u << i)) == 0) continue;
    const std::string name(kFieldNames[i]);
    if (!r.u64(&v[i])) return truncated("field " + name);
    // An absent field means 0, so a present 0 would be a second encoding.
    if (v[i] == 0) return bad("field " + name + " is present but 0");
  }
  Message m;
  m.type = static_cast<MessageType>(type);
  m.from = NodeId(v[0]);
  m.to = NodeId(v[1]);
  m.term = Term(v[2]);
  m.log_term = Term(v[3]);
  m.index = LogIndex(v[4]);
  m.commit = LogIndex(v[5]);
  m.reject_hint = LogIndex(v[6]);
  m.context = v[7];
  m.reject = (flags & kFlagReject) != 0;
  m.transfer = (flags & kFlagTransfer) != 0;
  m.snapshot_done = (flags & kFlagSnapshotDone) != 0;

  if ((flags & kFlagEntries) != 0) {
    NW_RETURN_IF_ERROR(decode_entries(&r, &m.entries));
  }
  if ((flags & kFlagSnapshot) != 0) {
    NW_RETURN_IF_ERROR(decode_snapshot(&r, &m));
  }
  if (!r.done()) {
    return bad("trailing bytes after the message: " +
               std::to_string(r.remaining()));
  }
  return m;
}

}  // namespace nw::raft
