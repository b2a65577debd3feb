#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/controller/command.h"
#include "agent/raft/byte_io.h"
#include "agent/raft/rand.h"

namespace nw::controller {
namespace {

RegisterNode sample_register() {
  RegisterNode c;
  c.node.id = "nw-1a2b3c4d";
  c.node.raft_id = raft::NodeId(7);
  c.node.api_addr = "10.0.0.1:7000";
  c.node.peer_addr = "10.0.0.1:7001";
  c.node.labels = {{"rack", "r1"}, {"zone", "eu-1"}};
  c.node.role = NodeRecord::Role::learner;
  return c;
}

// One or more samples of every command type, in CommandType order.
std::vector<Command> samples() {
  std::vector<Command> out;
  out.emplace_back(sample_register());
  RegisterNode bare;
  bare.node.id = "x";
  bare.node.raft_id = raft::NodeId(std::numeric_limits<std::uint64_t>::max());
  out.emplace_back(bare);
  out.emplace_back(UpdateNode{"nw-1", "a:1", "b:2", {{{"k", "v"}}}});
  out.emplace_back(UpdateNode{"nw-1", std::nullopt, "b:2", std::nullopt});
  out.emplace_back(UpdateNode{"nw-1", std::nullopt, std::nullopt,
                              std::map<std::string, std::string>{}});
  out.emplace_back(UpdateNode{"nw-1", {}, {}, {}});
  out.emplace_back(SetRole{"nw-2", NodeRecord::Role::voter});
  out.emplace_back(SetRole{"nw-2", NodeRecord::Role::learner});
  out.emplace_back(SetState{"nw-3", NodeRecord::State::unreachable});
  out.emplace_back(SetState{"nw-3", NodeRecord::State::left});
  out.emplace_back(Heartbeat{"nw-4", 1'700'000'000'123});
  out.emplace_back(Heartbeat{"nw-4", -5});
  out.emplace_back(RemoveNode{"nw-5"});
  out.emplace_back(SetLabels{"nw-6", {{"a", "1"}, {"rack", "r2"}}, {"b", "c"}});
  out.emplace_back(SetLabels{"nw-6", {}, {}});
  out.emplace_back(CreateTopic{"orders",
                               {{"nw-1", "nw-2", "nw-3"}, {"nw-2", "nw-3"}},
                               604'800'000,
                               -1,
                               128u << 20});
  out.emplace_back(CreateTopic{"", {}, 0, -5, 0});
  out.emplace_back(CreateTopic{"x",
                               {{}},
                               std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::int64_t>::max(),
                               std::numeric_limits<std::uint64_t>::max()});
  out.emplace_back(DeleteTopic{"orders"});
  out.emplace_back(AlterTopic{"orders", 1000, std::nullopt, {{"nw-4"}}});
  out.emplace_back(AlterTopic{"orders", std::nullopt, -1, {}});
  out.emplace_back(AlterTopic{"orders", 1, 2, {{"a", "b"}, {"c"}}});
  out.emplace_back(AlterTopic{"orders", {}, {}, {}});
  out.emplace_back(AlterTopic{"orders", {}, {}, {}, 1u << 20, std::nullopt});
  out.emplace_back(AlterTopic{"orders", 5, -1, {{"a"}}, 7, 0});
  out.emplace_back(AlterTopic{"orders", {}, {}, {}, std::nullopt, 3'600'000});
  out.emplace_back(
      SetPartitionReplicas{"orders", 2, {"nw-1", "nw-2"}, {"nw-2", "nw-4"}});
  out.emplace_back(SetPartitionReplicas{
      "orders", std::numeric_limits<std::uint32_t>::max(), {"nw-1"}, {}});
  out.emplace_back(
      CommitOffsets{"billing",
                    {{"orders", 0, 1201},
                     {"orders", 1, 0},
                     {"audit", 7, std::numeric_limits<std::uint64_t>::max()}}});
  out.emplace_back(CommitOffsets{"g", {}});
  out.emplace_back(DeleteGroup{"billing"});
  return out;
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char ch : s) {
    const auto b = static_cast<std::uint8_t>(ch);
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

void expect_invalid(std::string_view bytes, std::string_view reason) {
  auto decoded = decode_command(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == Code::invalid_argument);
  CHECK_MESSAGE(decoded.error().message.find(reason) != std::string::npos,
                decoded.error().message);
}

TEST_SUITE("controller.command_codec") {
  TEST_CASE("round_trip.every_command_type") {
    std::vector<bool> seen(14, false);
    for (const Command& c : samples()) {
      const std::string bytes = encode_command(c);
      CHECK(static_cast<std::uint8_t>(bytes[0]) == kCommandFormatVersion);
      CHECK(static_cast<std::uint8_t>(bytes[1]) ==
            static_cast<std::uint8_t>(command_type(c)));
      auto decoded = decode_command(bytes);
      REQUIRE_MESSAGE(decoded.ok(), decoded.error().to_string());
      CHECK(*decoded == c);
      CHECK(encode_command(*decoded) == bytes);
      seen[static_cast<std::size_t>(command_type(c))] = true;
    }
    for (std::size_t t = 1; t < seen.size(); ++t) CHECK(seen[t]);
  }

  TEST_CASE("encode.matches_documented_examples") {
    // docs/formats/controller-commands.md, "Examples".
    CHECK(hex(encode_command(RemoveNode{"nw-1"})) ==
          "01 06 04 00 00 00 6e 77 2d 31");
    CHECK(hex(encode_command(Heartbeat{"nw-1", 1000})) ==
          "01 05 04 00 00 00 6e 77 2d 31 e8 03 00 00 00 00 00 00");
    CHECK(hex(encode_command(UpdateNode{"a", {}, "p", {}})) ==
          "01 02 01 00 00 00 61 02 01 00 00 00 70");
    CHECK(hex(encode_command(DeleteTopic{"t"})) == "01 09 01 00 00 00 74");
    CHECK(hex(encode_command(CreateTopic{"t", {{"a", "b"}}, -1, -1, 1024})) ==
          "01 08 01 00 00 00 74 01 00 00 00 02 00 00 00 01 00 00 00 61 "
          "01 00 00 00 62 ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff "
          "00 04 00 00 00 00 00 00");
    CHECK(hex(encode_command(AlterTopic{"t", {}, 5, {}})) ==
          "01 0a 01 00 00 00 74 02 05 00 00 00 00 00 00 00 00 00 00 00");
    CHECK(hex(encode_command(SetPartitionReplicas{"t", 1, {"a"}, {}})) ==
          "01 0b 01 00 00 00 74 01 00 00 00 01 00 00 00 01 00 00 00 61 "
          "00 00 00 00");
    CHECK(hex(encode_command(CommitOffsets{"g", {{"t", 0, 5}}})) ==
          "01 0c 01 00 00 00 67 01 00 00 00 01 00 00 00 74 00 00 00 00 "
          "05 00 00 00 00 00 00 00");
    CHECK(hex(encode_command(DeleteGroup{"g"})) == "01 0d 01 00 00 00 67");
  }

  TEST_CASE("create_topic.segment_ms_takes_format_version_2") {
    CreateTopic c{"t", {{"a", "b"}}, -1, -1, 1024};
    const std::string v1 = encode_command(c);
    // Without segment_ms: version 1, as written before the field existed
    // (the documented example); it decodes with segment_ms 0 (default).
    CHECK(static_cast<std::uint8_t>(v1[0]) == kCommandFormatVersion);
    auto d1 = decode_command(v1);
    REQUIRE(d1.ok());
    CHECK(std::get<CreateTopic>(*d1).segment_ms == 0);
    // With it: version 2, the same body then i64 segment ms.
    c.segment_ms = 3'600'000;
    const std::string v2 = encode_command(c);
    CHECK(hex(v2) == "02" + hex(v1).substr(2) + " 80 ee 36 00 00 00 00 00");
    auto d2 = decode_command(v2);
    REQUIRE_MESSAGE(d2.ok(), d2.error().to_string());
    CHECK(*d2 == Command(c));
    CHECK(encode_command(*d2) == v2);
    for (std::size_t n = 0; n < v2.size(); ++n) {
      CHECK_FALSE(decode_command(std::string_view(v2).substr(0, n)).ok());
    }
    c.segment_ms = -1;
    CHECK(*decode_command(encode_command(c)) == Command(c));
    // Non-canonical: version 2 holding segment ms 0, or version 1 with
    // the field appended.
    std::string zero = v1;
    zero[0] = 2;
    zero.append(8, '\0');
    expect_invalid(zero, "create_topic: segment ms 0 in format version 2");
    std::string trailing = v2;
    trailing[0] = 1;
    expect_invalid(trailing, "trailing bytes after the command: 8");
  }

  TEST_CASE("alter_topic.segment_fields_use_flag_bits_2_and_3") {
    CHECK(hex(encode_command(AlterTopic{"t", {}, {}, {}, 1024, 5})) ==
          "01 0a 01 00 00 00 74 0c 00 04 00 00 00 00 00 00 "
          "05 00 00 00 00 00 00 00 00 00 00 00");
  }

  TEST_CASE("decode.every_prefix_fails_cleanly") {
    for (const Command& c : samples()) {
      const std::string bytes = encode_command(c);
      for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto decoded = decode_command(std::string_view(bytes).substr(0, n));
        REQUIRE_FALSE(decoded.ok());
        CHECK(decoded.error().code == Code::invalid_argument);
      }
    }
  }

  TEST_CASE("decode.unknown_version_or_type") {
    std::string bytes = encode_command(RemoveNode{"n"});
    bytes[0] = 3;
    expect_invalid(bytes, "unknown format version 3");
    // Version 2 exists only for create_topic.
    bytes[0] = 2;
    expect_invalid(bytes,
                   "remove_node: format version 2 is only for "
                   "create_topic");
    bytes[0] = 0;
    expect_invalid(bytes, "unknown format version 0");
    for (int type : {0, 24, 25, 255}) {
      bytes = encode_command(RemoveNode{"n"});
      bytes[1] = static_cast<char>(type);
      expect_invalid(bytes, "unknown command type " + std::to_string(type));
    }
  }

  TEST_CASE("decode.refuses_trailing_bytes") {
    std::string bytes = encode_command(SetRole{"n", NodeRecord::Role::voter});
    bytes += '\0';
    expect_invalid(bytes, "trailing bytes after the command: 1");
  }

  TEST_CASE("decode.refuses_out_of_range_enums") {
    std::string bytes = encode_command(SetRole{"n", NodeRecord::Role::voter});
    bytes.back() = 2;
    expect_invalid(bytes, "unknown role 2");
    bytes = encode_command(SetState{"n", NodeRecord::State::healthy});
    bytes.back() = 3;
    expect_invalid(bytes, "unknown state 3");
  }

  TEST_CASE("decode.refuses_non_canonical_encodings") {
    // Reserved update flag bit.
    std::string bytes = encode_command(UpdateNode{"a", {}, {}, {}});
    bytes.back() = static_cast<char>(0x08);
    expect_invalid(bytes, "reserved field flag bits set");
    bytes = encode_command(AlterTopic{"t", {}, {}, {}});
    bytes[7] = static_cast<char>(0x10);
    expect_invalid(bytes, "alter_topic: reserved field flag bits set");
    // Remove keys of set_labels out of order.
    bytes = encode_command(SetLabels{"a", {}, {"x", "y"}});
    bytes[bytes.size() - 1] = 'x';
    expect_invalid(bytes, "remove keys not strictly ascending");
    // Label keys out of order: encode {b, a} by hand.
    bytes.clear();
    raft::put_u8(&bytes, 1);
    raft::put_u8(&bytes, 2);
    for (std::string_view s : {"a"}) {
      raft::put_u32(&bytes, static_cast<std::uint32_t>(s.size()));
      bytes.append(s);
    }
    raft::put_u8(&bytes, 4);
    raft::put_u32(&bytes, 2);
    for (std::string_view s : {"b", "1", "a", "2"}) {
      raft::put_u32(&bytes, static_cast<std::uint32_t>(s.size()));
      bytes.append(s);
    }
    expect_invalid(bytes, "label keys not strictly ascending");
  }

  TEST_CASE("decode.huge_claimed_lengths_allocate_nothing") {
    std::string bytes;
    raft::put_u8(&bytes, 1);
    raft::put_u8(&bytes, 6);
    raft::put_u32(&bytes, 0xffffffffu);
    expect_invalid(bytes, "truncated in id");
    bytes.clear();
    raft::put_u8(&bytes, 1);
    raft::put_u8(&bytes, 2);
    raft::put_u32(&bytes, 1);
    bytes += 'a';
    raft::put_u8(&bytes, 4);
    raft::put_u32(&bytes, 0xffffffffu);
    expect_invalid(bytes, "truncated in labels: count 4294967295");
    // A partition count, a replica count and an offset count.
    bytes = encode_command(CreateTopic{"t", {}, -1, -1, 1});
    bytes[7] = static_cast<char>(0xff);
    bytes[8] = static_cast<char>(0xff);
    expect_invalid(bytes, "create_topic: truncated in partitions: count 65535");
    bytes = encode_command(SetPartitionReplicas{"t", 0, {}, {}});
    bytes[11] = static_cast<char>(0xff);
    bytes[14] = static_cast<char>(0xff);
    expect_invalid(bytes, "truncated in replicas: count 4278190335");
    bytes = encode_command(CommitOffsets{"g", {{"t", 0, 5}}});
    bytes[7] = 2;
    expect_invalid(bytes, "truncated in offsets: count 2");
    bytes = encode_command(AlterTopic{"t", {}, {}, {{"a"}}});
    bytes[12] = 9;
    expect_invalid(bytes, "truncated in partition 0 replicas: count 9");
  }

  TEST_CASE("decode.random_bytes_never_crash") {
    raft::Rng rng(42);
    const std::vector<Command> base = samples();
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string bytes = encode_command(base[rng.uniform(base.size())]);
      const int flips = static_cast<int>(rng.between(1, 3));
      for (int f = 0; f < flips; ++f) {
        bytes[rng.uniform(bytes.size())] = static_cast<char>(rng.uniform(256));
      }
      auto decoded = decode_command(bytes);
      if (decoded.ok()) {
        ++accepted;
        CHECK(encode_command(*decoded) == bytes);
      } else {
        CHECK(decoded.error().code == Code::invalid_argument);
      }
    }
    CHECK(accepted > 0);
  }
}

}  // namespace
}  // namespace nw::controller
