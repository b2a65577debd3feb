#include <doctest/doctest.h>

#include "agent/storage/segment_format.h"
#include "agent/storage/segment_log.h"

namespace nw::storage {
namespace {

raft::SnapshotMeta sample_meta() {
  return raft::SnapshotMeta{
      raft::LogIndex(42), raft::Term(7),
      raft::Membership{{raft::NodeId(1), raft::NodeId(2)}, {raft::NodeId(9)}}};
}

}  // namespace

TEST_SUITE("storage.segment_format") {
  TEST_CASE("segment_header.round_trips_and_detects_flips") {
    const SegmentHeader h{123, 4567, 1'700'000'000'123};
    const std::string bytes = encode_segment_header(h);
    CHECK(bytes.size() == kSegmentHeaderSize);
    CHECK(bytes.substr(0, 4) == "NWSG");
    CHECK(decode_segment_header(bytes) == h);
    CHECK(decode_segment_header(bytes + "trailing batches") == h);
    for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
      std::string bad = bytes;
      bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
      CAPTURE(pos);
      CHECK_FALSE(decode_segment_header(bad).has_value());
    }
    CHECK_FALSE(decode_segment_header(bytes.substr(0, 35)).has_value());
  }

  TEST_CASE("segment_file_name.is_twenty_digits") {
    CHECK(segment_file_name(1, kLogSuffix) == "00000000000000000001.log");
    CHECK(segment_file_name(18446744073709551615ull, kIndexSuffix) ==
          "18446744073709551615.index");
    CHECK(parse_segment_file_name("00000000000000000042.log", kLogSuffix) ==
          std::optional<std::uint64_t>(42));
    CHECK(parse_segment_file_name("00000000000000000042.timeindex",
                                  kTimeIndexSuffix) ==
          std::optional<std::uint64_t>(42));
    CHECK_FALSE(
        parse_segment_file_name("00000000000000000042.index", kLogSuffix));
    CHECK_FALSE(parse_segment_file_name("42.log", kLogSuffix));
    CHECK_FALSE(
        parse_segment_file_name("0000000000000000004x.log", kLogSuffix));
    CHECK_FALSE(
        parse_segment_file_name("99999999999999999999.log", kLogSuffix));
  }

  TEST_CASE("hard_state.newest_valid_slot_wins") {
    const raft::HardState a{raft::Term(3), raft::NodeId(2), raft::LogIndex(9)};
    const raft::HardState b{raft::Term(4), raft::NodeId(0), raft::LogIndex(11)};
    std::string file(kHardStateFileSize, '\0');
    CHECK(decode_hard_state_file(file).seq == 0);
    auto put = [&](std::uint64_t seq, const raft::HardState& hs) {
      const std::string slot = encode_hard_state_slot(seq, hs);
      CHECK(slot.size() == kHardStateSlotSize);
      file.replace(hard_state_slot_pos(seq), slot.size(), slot);
    };
    put(1, a);
    CHECK(hard_state_slot_pos(1) == kHardStateSlot1Pos);
    auto got = decode_hard_state_file(file);
    CHECK(got.seq == 1);
    CHECK(got.hs == a);
    put(2, b);
    got = decode_hard_state_file(file);
    CHECK(got.seq == 2);
    CHECK(got.hs == b);
    // A torn write of slot 0 (sequence 2) leaves sequence 1.
    file[hard_state_slot_pos(2) + 20] ^= 0x10;
    got = decode_hard_state_file(file);
    CHECK(got.seq == 1);
    CHECK(got.hs == a);
  }

  TEST_CASE("snapshot_file.round_trips_and_names_the_damage") {
    for (bool installed : {false, true}) {
      const std::string bytes =
          encode_snapshot_file(sample_meta(), "payload", installed);
      auto f = decode_snapshot_file(bytes, "dir/snapshot");
      REQUIRE(f.ok());
      CHECK(f->snap.meta == sample_meta());
      CHECK(f->snap.data == "payload");
      CHECK(f->installed == installed);
      for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
        std::string bad = bytes;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x20);
        auto r = decode_snapshot_file(bad, "dir/snapshot");
        CAPTURE(pos);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::corruption);
        CHECK(r.error().message.find("dir/snapshot") != std::string::npos);
      }
    }
    CHECK_FALSE(decode_snapshot_file("", "x").ok());
  }

  TEST_CASE("start_file.round_trips") {
    const StartPoint s{raft::LogIndex(100), raft::Term(5), 98765};
    const std::string bytes = encode_start_file(s);
    CHECK(bytes.size() == kStartFileSize);
    CHECK(decode_start_file(bytes) == s);
    for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
      std::string bad = bytes;
      bad[pos] = static_cast<char>(bad[pos] ^ 0x04);
      CHECK_FALSE(decode_start_file(bad).has_value());
    }
    CHECK_FALSE(decode_start_file(bytes + "x").has_value());
  }

  TEST_CASE("snapshot_data.round_trips_next_offset") {
    const std::string d = encode_snapshot_data(0x0102030405060708ull, "rest");
    CHECK(d.size() == 12);
    auto r = decode_snapshot_data(d);
    REQUIRE(r.ok());
    CHECK(r->first == 0x0102030405060708ull);
    CHECK(r->second == "rest");
    auto empty_rest = decode_snapshot_data(encode_snapshot_data(5, ""));
    REQUIRE(empty_rest.ok());
    CHECK(empty_rest->second.empty());
    auto bad = decode_snapshot_data("short");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Code::corruption);
  }

  TEST_CASE("index_entries.are_sixteen_bytes_little_endian") {
    std::string off, time;
    append_offset_entry(&off, IndexPoint{0x11, 0x22, 0x33});
    append_time_entry(&time, IndexPoint{0x11, 0x22, 0x33});
    REQUIRE(off.size() == kIndexEntrySize);
    REQUIRE(time.size() == kIndexEntrySize);
    CHECK(off[0] == 0x11);
    CHECK(off[8] == 0x22);
    CHECK(time[0] == 0x33);
    CHECK(time[8] == 0x11);
  }
}

}  // namespace nw::storage
