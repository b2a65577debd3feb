#include "agent/raft/message_codec.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/raft/rand.h"

namespace nw::raft {
namespace {

constexpr int kLastMessageType = static_cast<int>(MessageType::snapshot_resp);

bool same(const Message& a, const Message& b) {
  if (a.snapshot.has_value() != b.snapshot.has_value()) return false;
  if (a.snapshot.has_value() && (a.snapshot->meta != b.snapshot->meta ||
                                 a.snapshot->data != b.snapshot->data)) {
    return false;
  }
  return a.type == b.type && a.from == b.from && a.to == b.to &&
         a.term == b.term && a.log_term == b.log_term && a.index == b.index &&
         a.entries == b.entries && a.commit == b.commit &&
         a.reject == b.reject && a.reject_hint == b.reject_hint &&
         a.context == b.context && a.transfer == b.transfer &&
         a.snapshot_offset == b.snapshot_offset &&
         a.snapshot_size == b.snapshot_size &&
         a.snapshot_done == b.snapshot_done;
}

Message round_trip(const Message& m) {
  auto decoded = decode_message(encode_message(m));
  REQUIRE_MESSAGE(decoded.ok(), decoded.error().to_string());
  return std::move(decoded).value();
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<std::uint8_t>(c);
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

// A message as the core sends it for `type`, with the fields that type uses.
Message typical(MessageType type) {
  Message m;
  m.type = type;
  m.from = NodeId(1);
  m.to = NodeId(2);
  m.term = Term(7);
  switch (type) {
    case MessageType::pre_vote:
    case MessageType::vote:
      m.index = LogIndex(41);
      m.log_term = Term(6);
      m.transfer = type == MessageType::vote;
      break;
    case MessageType::pre_vote_resp:
    case MessageType::vote_resp:
      m.reject = type == MessageType::vote_resp;
      break;
    case MessageType::append:
      m.index = LogIndex(40);
      m.log_term = Term(6);
      m.commit = LogIndex(39);
      m.entries = {Entry{Term(6), LogIndex(41), EntryType::normal, "set x"},
                   Entry{Term(7), LogIndex(42), EntryType::normal, ""}};
      break;
    case MessageType::append_resp:
      m.reject = true;
      m.index = LogIndex(40);
      m.reject_hint = LogIndex(35);
      m.log_term = Term(4);
      break;
    case MessageType::heartbeat:
      m.commit = LogIndex(39);
      m.context = 12;
      break;
    case MessageType::heartbeat_resp:
      m.context = 12;
      break;
    case MessageType::snapshot:
      m.snapshot = Snapshot{
          SnapshotMeta{LogIndex(30), Term(5), Membership{{NodeId(1)}, {}}},
          "state"};
      m.snapshot_offset = 64;
      m.snapshot_size = 69;
      m.snapshot_done = true;
      break;
    case MessageType::snapshot_resp:
      m.index = LogIndex(30);
      m.log_term = Term(5);
      m.context = 128;
      break;
    case MessageType::timeout_now:
      break;
    case MessageType::read_index:
    case MessageType::read_index_resp:
      m.context = 0xfedcba9876543210ULL;
      m.index = LogIndex(type == MessageType::read_index_resp ? 42 : 0);
      break;
  }
  return m;
}

// A valid encoding that uses every part of the layout.
Message everything() {
  Message m = typical(MessageType::append);
  m.reject = true;
  m.transfer = true;
  m.reject_hint = LogIndex(3);
  m.context = 99;
  m.entries.push_back(Entry{
      Term(7), LogIndex(43), EntryType::conf_change,
      encode_conf_change(ConfChange{ConfChangeType::add_learner, NodeId(4)})});
  m.snapshot = Snapshot{
      SnapshotMeta{LogIndex(30), Term(5),
                   Membership{{NodeId(1), NodeId(2), NodeId(3)}, {NodeId(4)}}},
      "snapshot bytes"};
  m.snapshot_offset = 6;
  m.snapshot_size = 20;
  m.snapshot_done = true;
  return m;
}

std::string random_bytes(Rng& rng, std::size_t max_len) {
  std::string s(rng.uniform(max_len + 1), '\0');
  for (char& c : s) c = static_cast<char>(rng.uniform(256));
  return s;
}

// Small values often, zero often (absent fields), the extremes sometimes.
std::uint64_t random_u64(Rng& rng) {
  switch (rng.uniform(4)) {
    case 0:
      return 0;
    case 1:
      return rng.uniform(100);
    case 2:
      return rng.next();
    default:
      return std::numeric_limits<std::uint64_t>::max() - rng.uniform(3);
  }
}

Message random_message(Rng& rng) {
  Message m;
  m.type = static_cast<MessageType>(rng.uniform(kLastMessageType + 1));
  m.from = NodeId(random_u64(rng));
  m.to = NodeId(random_u64(rng));
  m.term = Term(random_u64(rng));
  m.log_term = Term(random_u64(rng));
  m.index = LogIndex(random_u64(rng));
  m.commit = LogIndex(random_u64(rng));
  m.reject = rng.chance(0.5);
  m.reject_hint = LogIndex(random_u64(rng));
  m.context = random_u64(rng);
  m.transfer = rng.chance(0.5);
  if (rng.chance(0.5)) {
    const std::size_t n = rng.uniform(6);
    const std::uint64_t count_room = n == 0 ? 0 : n - 1;
    const std::uint64_t first =
        rng.between(1, std::numeric_limits<std::uint64_t>::max() - count_room);
    for (std::size_t i = 0; i < n; ++i) {
      m.entries.push_back(Entry{Term(random_u64(rng)), LogIndex(first + i),
                                static_cast<EntryType>(rng.uniform(2)),
                                random_bytes(rng, 40)});
    }
  }
  if (rng.chance(0.3)) {
    Snapshot s;
    s.meta.index = LogIndex(random_u64(rng));
    s.meta.term = Term(random_u64(rng));
    for (std::uint64_t i = rng.uniform(4); i > 0; --i) {
      s.meta.membership.voters.insert(NodeId(random_u64(rng)));
    }
    for (std::uint64_t i = rng.uniform(3); i > 0; --i) {
      s.meta.membership.learners.insert(NodeId(random_u64(rng)));
    }
    s.data = random_bytes(rng, 100);
    const std::uint64_t len = s.data.size();
    m.snapshot_size = len + rng.uniform(200);
    m.snapshot_offset = rng.uniform(m.snapshot_size - len + 1);
    if (rng.chance(0.1)) {
      m.snapshot_size = kMaxSnapshotSize;
      m.snapshot_offset = kMaxSnapshotSize - len;
    }
    m.snapshot_done = rng.chance(0.5);
    m.snapshot = std::move(s);
  }
  return m;
}

void check_rejected(std::string_view bytes, std::string_view reason) {
  auto r = decode_message(bytes);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::invalid_argument);
  CHECK_MESSAGE(r.error().message.find(reason) != std::string::npos,
                r.error().message);
}

}  // namespace

TEST_SUITE("raft.message_codec") {
  TEST_CASE("round_trip.every_message_type") {
    for (int t = 0; t <= kLastMessageType; ++t) {
      const Message m = typical(static_cast<MessageType>(t));
      CAPTURE(to_string(m.type));
      const std::string bytes = encode_message(m);
      CHECK(bytes[0] == static_cast<char>(kMessageFormatVersion));
      CHECK(bytes[1] == static_cast<char>(t));
      CHECK(same(round_trip(m), m));
    }
    // Nothing set: only the 4 header bytes.
    CHECK(encode_message(Message{}).size() == 4);
    CHECK(same(round_trip(Message{}), Message{}));
  }

  TEST_CASE("encode.matches_the_documented_examples") {
    // docs/formats/raft-messages.md, "Examples".
    Message hb;
    hb.type = MessageType::heartbeat;
    hb.from = NodeId(1);
    hb.to = NodeId(2);
    hb.term = Term(5);
    hb.commit = LogIndex(7);
    hb.context = 3;
    CHECK(hex(encode_message(hb)) ==
          "02 06 00 a7 "
          "01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 "
          "05 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
          "03 00 00 00 00 00 00 00");

    Message ap;
    ap.type = MessageType::append;
    ap.from = NodeId(1);
    ap.to = NodeId(2);
    ap.term = Term(5);
    ap.log_term = Term(5);
    ap.index = LogIndex(7);
    ap.commit = LogIndex(7);
    ap.entries = {Entry{Term(5), LogIndex(8), EntryType::normal, "hi"}};
    CHECK(hex(encode_message(ap)) ==
          "02 04 04 3f "
          "01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 "
          "05 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 "
          "07 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 "
          "01 00 00 00 08 00 00 00 00 00 00 00 "
          "05 00 00 00 00 00 00 00 00 02 00 00 00 68 69");
  }

  TEST_CASE("round_trip.entries_of_every_type") {
    std::string large(1 << 20, '\0');
    for (std::size_t i = 0; i < large.size(); ++i) {
      large[i] = static_cast<char>(i * 131 + 7);
    }
    Message m;
    m.type = MessageType::append;
    m.entries = {
        Entry{Term(3), LogIndex(10), EntryType::normal, ""},
        Entry{Term(3), LogIndex(11), EntryType::normal, "payload"},
        Entry{
            Term(3), LogIndex(12), EntryType::conf_change,
            encode_conf_change(ConfChange{ConfChangeType::promote, NodeId(5)})},
        Entry{Term(4), LogIndex(13), EntryType::normal, large},
        Entry{Term(4), LogIndex(14), EntryType::conf_change, ""},
    };
    const Message got = round_trip(m);
    CHECK(same(got, m));
    REQUIRE(got.entries.size() == 5);
    CHECK(got.entries[3].data == large);
    CHECK(decode_conf_change(got.entries[2].data).value() ==
          ConfChange{ConfChangeType::promote, NodeId(5)});

    // The largest indexes: first + count - 1 == 2^64 - 1.
    Message top;
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    top.entries = {Entry{Term(1), LogIndex(max - 1), EntryType::normal, "a"},
                   Entry{Term(1), LogIndex(max), EntryType::normal, "b"}};
    CHECK(same(round_trip(top), top));
  }

  TEST_CASE("round_trip.snapshot_with_voters_and_learners") {
    Message m = typical(MessageType::snapshot);
    m.snapshot->meta.membership.voters = {NodeId(1), NodeId(3), NodeId(9)};
    m.snapshot->meta.membership.learners = {NodeId(2),
                                            NodeId(0xffffffffffffffffULL)};
    m.snapshot->data = std::string(70000, 'z');
    m.snapshot_offset = 0;
    m.snapshot_size = 70000;
    m.snapshot_done = true;
    CHECK(same(round_trip(m), m));
    // A chunk in the middle of a large snapshot.
    m.snapshot_offset = 1 << 20;
    m.snapshot_size = std::uint64_t{5} << 20;
    m.snapshot_done = false;
    CHECK(same(round_trip(m), m));

    // An empty snapshot (no members, no data) is still a snapshot.
    m.snapshot = Snapshot{};
    m.snapshot_offset = m.snapshot_size = 0;
    m.snapshot_done = true;
    const Message got = round_trip(m);
    REQUIRE(got.snapshot.has_value());
    CHECK(same(got, m));
  }

  TEST_CASE("decode.every_proper_prefix_fails") {
    const std::string bytes = encode_message(everything());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      auto r = decode_message(std::string_view(bytes).substr(0, n));
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
      CHECK(r.error().message.starts_with("raft message: truncated in "));
    }
    // The reason says where: cut inside the data of entry 2.
    Message m = typical(MessageType::append);
    m.entries.push_back(Entry{Term(7), LogIndex(43), EntryType::normal, "xy"});
    const std::string three = encode_message(m);
    check_rejected(std::string_view(three).substr(0, three.size() - 1),
                   "raft message: truncated in entry 2 data");
  }

  TEST_CASE("decode.trailing_byte_fails") {
    for (int t = 0; t <= kLastMessageType; ++t) {
      std::string bytes = encode_message(typical(static_cast<MessageType>(t)));
      bytes.push_back('\0');
      check_rejected(bytes, "trailing bytes after the message: 1");
    }
    check_rejected(encode_message(everything()) + "junk",
                   "trailing bytes after the message: 4");
  }

  TEST_CASE("decode.unknown_version_fails") {
    for (int v : {0, 1, 3, 255}) {
      std::string bytes = encode_message(typical(MessageType::heartbeat));
      bytes[0] = static_cast<char>(v);
      auto r = decode_message(bytes);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
      CHECK(r.error().message == "raft message: unknown format version " +
                                     std::to_string(v) +
                                     " (this build supports 2)");
      CHECK_FALSE(r.error().hint.empty());
    }
  }

  TEST_CASE("decode.out_of_range_values_fail") {
    std::string bytes = encode_message(typical(MessageType::heartbeat));
    bytes[1] = static_cast<char>(kLastMessageType + 1);
    check_rejected(bytes, "unknown message type 13");

    bytes = encode_message(typical(MessageType::heartbeat));
    bytes[2] = static_cast<char>(0x20);
    check_rejected(bytes, "reserved flag bits");
    bytes[2] = static_cast<char>(0x10);
    check_rejected(bytes, "snapshot done flag set without a snapshot");

    Message m;
    m.entries = {Entry{Term(1), LogIndex(1), EntryType::normal, ""}};
    bytes = encode_message(m);
    // Header 4, count 4, first index 8, term 8: the type byte is at 24.
    REQUIRE(bytes.size() == 29);
    bytes[24] = 2;
    check_rejected(bytes, "entry 0 has unknown type 2");
  }

  TEST_CASE("decode.non_canonical_encodings_fail") {
    // A present field that is 0.
    std::string bytes =
        std::string("\x02\x06\x00\x01", 4) + std::string(8, '\0');
    check_rejected(bytes, "field from is present but 0");
    // The entries flag with no entries.
    check_rejected(std::string("\x02\x04\x04\x00", 4) + std::string(4, '\0'),
                   "entry count is 0");
    // Voters out of order, or twice.
    for (std::uint8_t second : {1, 2}) {
      Message m;
      m.snapshot = Snapshot{};
      m.snapshot->meta.membership.voters = {NodeId(2), NodeId(3)};
      bytes = encode_message(m);
      // Header 4, index 8, term 8, count 4, then the first id at 24.
      REQUIRE(bytes[24] == 2);
      bytes[32] = static_cast<char>(second);
      check_rejected(bytes, "snapshot voters not in strictly ascending order");
    }
    // Indexes that would wrap around.
    Message m;
    m.entries = {Entry{Term(1), LogIndex(5), EntryType::normal, ""},
                 Entry{Term(1), LogIndex(6), EntryType::normal, ""}};
    bytes = encode_message(m);
    for (int i = 0; i < 8; ++i) bytes[8 + i] = '\xff';
    check_rejected(bytes, "entry indexes overflow");
    for (int i = 0; i < 8; ++i) bytes[8 + i] = '\0';
    check_rejected(bytes, "first entry index is 0");
  }

  TEST_CASE("decode.lengths_beyond_the_input_fail") {
    Message m;
    m.entries = {Entry{Term(1), LogIndex(1), EntryType::normal, "abc"}};
    std::string bytes = encode_message(m);
    // Entry count (at 4) claims 2^32 - 1 entries.
    std::string huge_count = bytes;
    for (int i = 0; i < 4; ++i) huge_count[4 + i] = '\xff';
    check_rejected(huge_count,
                   "truncated in entries: 4294967295 need at least");
    // Data length (at 25) claims 4 GiB - 1.
    std::string huge_data = bytes;
    for (int i = 0; i < 4; ++i) huge_data[25 + i] = '\xff';
    check_rejected(huge_data, "truncated in entry 0 data");

    Message s;
    s.snapshot = Snapshot{};
    s.snapshot->meta.membership.voters = {NodeId(1)};
    s.snapshot->data = "d";
    s.snapshot_size = 1;
    s.snapshot_done = true;
    bytes = encode_message(s);
    std::string huge_voters = bytes;
    for (int i = 0; i < 4; ++i) huge_voters[20 + i] = '\xff';
    check_rejected(huge_voters, "truncated in snapshot voters: 4294967295");
    // After 4 + 16 + 4 + 8 + 4 bytes: size (36), offset (44), length (52).
    // A chunk length of 2^64 - 1 does not fit its size.
    std::string huge_snap = bytes;
    for (int i = 0; i < 8; ++i) huge_snap[52 + i] = '\xff';
    check_rejected(huge_snap, "runs past the snapshot size 1");
    // A size over the limit.
    std::string huge_size = bytes;
    for (int i = 0; i < 8; ++i) huge_size[36 + i] = '\xff';
    check_rejected(huge_size, "snapshot size 18446744073709551615 is over");
    // The largest size with a chunk of all of it claimed but 1 byte sent:
    // refused without allocating for the claim.
    Message big = s;
    big.snapshot->data.clear();
    big.snapshot_size = kMaxSnapshotSize;
    bytes = encode_message(big) + "d";
    for (int i = 0; i < 8; ++i) {
      bytes[52 + i] = static_cast<char>(kMaxSnapshotSize >> (8 * i));
    }
    check_rejected(bytes, "truncated in snapshot chunk data");
  }

  TEST_CASE("decode.snapshot_chunk_fields") {
    Message m = typical(MessageType::snapshot);
    const Message got = round_trip(m);
    CHECK(got.snapshot_offset == 64);
    CHECK(got.snapshot_size == 69);
    CHECK(got.snapshot_done);
    CHECK(got.snapshot->data == "state");
    // A chunk that ends past the size: the offset one too far.
    m.snapshot_done = false;
    std::string bytes = encode_message(m);
    // Header 4, from/to/term 24, index 8, term 8, voters 12, learners 4:
    // size at 60, offset at 68.
    REQUIRE(bytes[68] == 64);
    bytes[68] = 65;
    check_rejected(bytes,
                   "snapshot chunk [65, +5) runs past the snapshot size");

    const Message resp = round_trip(typical(MessageType::snapshot_resp));
    CHECK(resp.type == MessageType::snapshot_resp);
    CHECK(resp.context == 128);
    CHECK(resp.index == LogIndex(30));
  }

  TEST_CASE("decode.every_single_byte_corruption_is_handled") {
    const std::string good = encode_message(everything());
    int rejected = 0;
    int accepted = 0;
    for (std::size_t pos = 0; pos < good.size(); ++pos) {
      for (int x = 1; x < 256; ++x) {
        std::string bad = good;
        bad[pos] = static_cast<char>(bad[pos] ^ x);
        auto r = decode_message(bad);
        if (r.ok()) {
          // Whatever was accepted is the one encoding of what it decoded to.
          ++accepted;
          REQUIRE(encode_message(*r) == bad);
        } else {
          ++rejected;
          REQUIRE(r.error().code == Code::invalid_argument);
          REQUIRE(r.error().message.starts_with("raft message: "));
        }
      }
    }
    // Values and data bytes are free; the structure bytes are checked.
    CHECK(accepted > 0);
    CHECK(rejected > 0);
  }

  TEST_CASE("round_trip.random_messages_fixed_seed") {
    Rng rng(20240611);
    for (int i = 0; i < 2000; ++i) {
      const Message m = random_message(rng);
      CAPTURE(i);
      const std::string bytes = encode_message(m);
      auto got = decode_message(bytes);
      REQUIRE_MESSAGE(got.ok(), got.error().to_string());
      REQUIRE(same(*got, m));
      REQUIRE(encode_message(*got) == bytes);
    }
  }
}

}  // namespace nw::raft
