#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/base/crc32c.h"
#include "common/records/record_batch.h"

namespace nw::records {
namespace {

Record make_record(std::optional<std::string> key,
                   std::optional<std::string> value, std::int64_t ts = 1000) {
  Record r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.timestamp_ms = ts;
  return r;
}

std::vector<Record> sample_records() {
  std::vector<Record> rs;
  rs.push_back(make_record("k1", "v1", 1700000000000));
  rs.push_back(make_record(std::nullopt, "no key", 1700000000005));
  rs.push_back(make_record("", "", 1699999999990));  // empty, older
  Record with_headers = make_record("k4", std::nullopt, 1700000000002);
  with_headers.headers.push_back({"trace", std::string("abc")});
  with_headers.headers.push_back({"flag", std::nullopt});
  with_headers.headers.push_back({"", std::string("")});
  with_headers.priority = 255;
  rs.push_back(with_headers);
  return rs;
}

// The records as decode returns them: offsets filled from `base`.
std::vector<Record> with_offsets(std::vector<Record> rs, std::uint64_t base) {
  for (std::size_t i = 0; i < rs.size(); ++i) rs[i].offset = base + i;
  return rs;
}

std::uint64_t varint_round_trip(std::uint64_t v, std::size_t* len) {
  std::string s;
  put_varint(&s, v);
  *len = s.size();
  std::string_view in = s;
  auto got = get_varint(&in);
  REQUIRE(got.has_value());
  CHECK(in.empty());
  return *got;
}

}  // namespace

TEST_SUITE("records.record_batch") {
  TEST_CASE("build_batch.round_trips_records") {
    const auto rs = sample_records();
    std::string batch = build_batch(rs, 42, 7);
    auto info = read_batch_info(batch);
    REQUIRE(info.ok());
    CHECK(info->base_offset == 0);
    CHECK(info->raft_index == 0);
    CHECK(info->raft_term == 0);
    CHECK(info->record_count == 4);
    CHECK_FALSE(info->control());
    CHECK(info->first_timestamp_ms == 1700000000000);
    CHECK(info->max_timestamp_ms == 1700000000005);
    CHECK(info->producer_id == 42);
    CHECK(info->base_sequence == 7);
    CHECK(info->size == batch.size());
    CHECK(info->next_offset() == 4);
    auto decoded = decode_records(batch);
    REQUIRE(decoded.ok());
    CHECK(*decoded == with_offsets(rs, 0));
  }

  TEST_CASE("build_batch.defaults_have_no_producer") {
    std::string batch = build_batch({make_record("a", "b")});
    auto info = read_batch_info(batch);
    REQUIRE(info.ok());
    CHECK(info->producer_id == -1);
    CHECK(info->base_sequence == -1);
    CHECK(info->attributes == 0);
  }

  TEST_CASE("build_batch.header_positions_match_the_constants") {
    std::string batch = build_batch(sample_records(), 0x0102030405060708, 9);
    CHECK(static_cast<std::uint8_t>(batch[kMagicPos]) == kMagic);
    CHECK(static_cast<std::uint8_t>(batch[kProducerIdPos]) == 0x08);
    CHECK(static_cast<std::uint8_t>(batch[kProducerIdPos + 7]) == 0x01);
    CHECK(static_cast<std::uint8_t>(batch[kBaseSequencePos]) == 9);
    CHECK(static_cast<std::uint8_t>(batch[kRecordCountPos]) == 4);
    const std::uint32_t length =
        static_cast<std::uint8_t>(batch[kBatchLengthPos]) |
        static_cast<std::uint8_t>(batch[kBatchLengthPos + 1]) << 8 |
        static_cast<std::uint8_t>(batch[kBatchLengthPos + 2]) << 16;
    CHECK(length + 12 == batch.size());
    std::uint32_t crc = 0;
    for (int i = 3; i >= 0; --i) {
      crc = (crc << 8) | static_cast<std::uint8_t>(batch[kCrcPos + i]);
    }
    CHECK(crc == crc32c(std::string_view(batch).substr(kAttributesPos)));
  }

  TEST_CASE("decode_records.null_key_differs_from_empty_key") {
    std::string batch = build_batch(
        {make_record(std::nullopt, std::nullopt), make_record("", "")});
    auto decoded = decode_records(batch);
    REQUIRE(decoded.ok());
    REQUIRE(decoded->size() == 2);
    CHECK_FALSE((*decoded)[0].key.has_value());
    CHECK_FALSE((*decoded)[0].value.has_value());
    REQUIRE((*decoded)[1].key.has_value());
    CHECK((*decoded)[1].key->empty());
    REQUIRE((*decoded)[1].value.has_value());
    CHECK((*decoded)[1].value->empty());
  }

  TEST_CASE("decode_records.headers_with_and_without_value") {
    Record r = make_record("k", "v");
    r.headers = {
        {"a", std::string("1")}, {"b", std::nullopt}, {"c", std::string()}};
    auto decoded = decode_records(build_batch({r}));
    REQUIRE(decoded.ok());
    REQUIRE((*decoded)[0].headers.size() == 3);
    CHECK((*decoded)[0].headers[0].value == std::optional<std::string>("1"));
    CHECK_FALSE((*decoded)[0].headers[1].value.has_value());
    CHECK((*decoded)[0].headers[2].value == std::optional<std::string>(""));
  }

  TEST_CASE("decode_records.large_values_and_extreme_timestamps") {
    std::vector<Record> rs;
    rs.push_back(make_record(std::string(300, 'k'), std::string(70000, 'v'),
                             std::numeric_limits<std::int64_t>::max()));
    rs.push_back(
        make_record("x", "y", std::numeric_limits<std::int64_t>::min()));
    rs.push_back(make_record("z", "w", 0));
    rs.back().priority = 128;
    auto decoded = decode_records(build_batch(rs));
    REQUIRE(decoded.ok());
    CHECK(*decoded == with_offsets(rs, 0));
  }

  TEST_CASE("stamp_batch.keeps_crc_and_sets_offsets") {
    const auto rs = sample_records();
    std::string batch = build_batch(rs);
    stamp_batch(&batch, 1000, 17, 3);
    auto info = read_batch_info(batch);
    REQUIRE(info.ok());
    CHECK(info->base_offset == 1000);
    CHECK(info->raft_index == 17);
    CHECK(info->raft_term == 3);
    CHECK(info->next_offset() == 1004);
    auto decoded = decode_records(batch);
    REQUIRE(decoded.ok());
    CHECK(*decoded == with_offsets(rs, 1000));
  }

  TEST_CASE("read_batch_info.detects_every_byte_flip_after_the_crc") {
    std::string batch = build_batch(sample_records(), 5, 6);
    stamp_batch(&batch, 77, 2, 1);
    for (std::size_t pos = kAttributesPos; pos < batch.size(); ++pos) {
      for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
        std::string bad = batch;
        bad[pos] = static_cast<char>(bad[pos] ^ mask);
        auto info = read_batch_info(bad);
        CAPTURE(pos);
        REQUIRE_FALSE(info.ok());
        CHECK(info.error().code == Code::invalid_argument);
        CHECK_FALSE(decode_records(bad).ok());
      }
    }
  }

  TEST_CASE("read_batch_info.flips_in_crc_magic_or_length_are_refused") {
    std::string batch = build_batch(sample_records());
    for (std::size_t pos = kBatchLengthPos; pos < kAttributesPos; ++pos) {
      if (pos >= kRaftIndexPos && pos < kMagicPos) continue;  // stamped
      std::string bad = batch;
      bad[pos] = static_cast<char>(bad[pos] ^ 0x01);
      CAPTURE(pos);
      CHECK_FALSE(read_batch_info(bad).ok());
    }
  }

  TEST_CASE("read_batch_info.crc_mismatch_is_named") {
    std::string batch = build_batch(sample_records());
    batch.back() = static_cast<char>(batch.back() ^ 1);
    auto info = read_batch_info(batch);
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().message == "record batch: crc mismatch");
  }

  TEST_CASE("read_batch_info.refuses_short_and_oversized_input") {
    std::string batch = build_batch(sample_records());
    for (std::size_t n = 0; n < batch.size(); ++n) {
      CAPTURE(n);
      CHECK_FALSE(read_batch_info(std::string_view(batch).substr(0, n)).ok());
    }
    // A length beyond kMaxBatchBytes is refused before anything is read.
    std::string huge = batch;
    huge[kBatchLengthPos + 3] = static_cast<char>(0x7f);
    auto info = read_batch_info(huge);
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().message.find("exceeds") != std::string::npos);
    // Shorter than a header.
    std::string tiny = batch;
    for (int i = 0; i < 4; ++i) tiny[kBatchLengthPos + i] = 0;
    CHECK_FALSE(read_batch_info(tiny).ok());
  }

  TEST_CASE("build_batch.oversized_batch_is_refused_by_the_reader") {
    std::string big =
        build_batch({make_record("k", std::string(kMaxBatchBytes, 'x'))});
    auto info = read_batch_info(big);
    REQUIRE_FALSE(info.ok());
    CHECK(info.error().code == Code::invalid_argument);
  }

  TEST_CASE("decode_records.refuses_trailing_bytes_and_control") {
    std::string batch = build_batch(sample_records());
    CHECK_FALSE(decode_records(batch + "x").ok());
    CHECK_FALSE(
        decode_records(build_control_batch(ControlKind::raft_noop, "")).ok());
  }

  TEST_CASE("decode_records.hostile_bodies_with_valid_crc_are_refused") {
    // Rebuild the CRC after corrupting the body, so the record parser
    // itself sees the hostile bytes: it must fail cleanly, never assert or
    // allocate by an unchecked length.
    std::string batch = build_batch(sample_records());
    auto recrc = [](std::string* b) {
      const std::uint32_t crc =
          crc32c(std::string_view(*b).substr(kAttributesPos));
      for (int i = 0; i < 4; ++i) {
        (*b)[kCrcPos + i] = static_cast<char>(crc >> (8 * i));
      }
    };
    std::mt19937 rng(1234);
    int refused = 0;
    for (std::size_t pos = kHeaderSize; pos < batch.size(); ++pos) {
      for (std::uint8_t v : {0x00, 0x7f, 0x80, 0xff}) {
        std::string bad = batch;
        bad[pos] = static_cast<char>(v);
        recrc(&bad);
        if (!decode_records(bad).ok()) ++refused;
      }
    }
    CHECK(refused > 0);
    // A data batch claiming no records.
    std::string none = batch;
    for (int i = 0; i < 4; ++i) none[kRecordCountPos + i] = 0;
    recrc(&none);
    CHECK_FALSE(decode_records(none).ok());
    // A record count far beyond what the body can hold.
    std::string lie = batch;
    for (int i = 0; i < 4; ++i) lie[kRecordCountPos + i] = '\xff';
    recrc(&lie);
    CHECK_FALSE(decode_records(lie).ok());
    // Random bodies.
    for (int round = 0; round < 2000; ++round) {
      std::string b = batch.substr(0, kHeaderSize);
      const std::size_t n = rng() % 64;
      for (std::size_t i = 0; i < n; ++i) b.push_back(static_cast<char>(rng()));
      const std::uint32_t length = static_cast<std::uint32_t>(b.size() - 12);
      for (int i = 0; i < 4; ++i) {
        b[kBatchLengthPos + i] = static_cast<char>(length >> (8 * i));
      }
      recrc(&b);
      (void)decode_records(b);  // must not crash
      (void)decode_control(b);
    }
  }

  TEST_CASE("build_control_batch.round_trips_kind_and_data") {
    std::string noop = build_control_batch(ControlKind::raft_noop, "");
    auto info = read_batch_info(noop);
    REQUIRE(info.ok());
    CHECK(info->control());
    CHECK(info->record_count == 0);
    CHECK(info->next_offset() == info->base_offset);
    auto c = decode_control(noop);
    REQUIRE(c.ok());
    CHECK(c->first == ControlKind::raft_noop);
    CHECK(c->second.empty());

    std::string cc = build_control_batch(ControlKind::conf_change,
                                         std::string("\x01\x02\0\x03", 4));
    stamp_batch(&cc, 10, 11, 12);
    auto d = decode_control(cc);
    REQUIRE(d.ok());
    CHECK(d->first == ControlKind::conf_change);
    CHECK(d->second == std::string("\x01\x02\0\x03", 4));
  }

  TEST_CASE("decode_control.refuses_data_batches_and_bad_kinds") {
    CHECK_FALSE(decode_control(build_batch(sample_records())).ok());
    std::string bad = build_control_batch(static_cast<ControlKind>(9), "x");
    CHECK_FALSE(decode_control(bad).ok());
    std::string flipped = build_control_batch(ControlKind::conf_change, "xy");
    flipped.back() = 'z';
    CHECK_FALSE(decode_control(flipped).ok());
  }

  TEST_CASE("split_batches.splits_whole_batches") {
    std::string a = build_batch(sample_records());
    std::string b = build_control_batch(ControlKind::raft_noop, "");
    std::string c = build_batch({make_record("k", "v")});
    const std::string all = a + b + c;  // the views point into it
    auto parts = split_batches(all);
    REQUIRE(parts.ok());
    REQUIRE(parts->size() == 3);
    CHECK((*parts)[0] == a);
    CHECK((*parts)[1] == b);
    CHECK((*parts)[2] == c);
    auto none = split_batches("");
    REQUIRE(none.ok());
    CHECK(none->empty());
  }

  TEST_CASE("split_batches.refuses_a_cut_or_bad_batch") {
    std::string a = build_batch(sample_records());
    std::string c = build_batch({make_record("k", "v")});
    std::string all = a + c;
    for (std::size_t cut = 1; cut < c.size(); ++cut) {
      CAPTURE(cut);
      CHECK_FALSE(
          split_batches(std::string_view(all).substr(0, all.size() - cut))
              .ok());
    }
    std::string bad = all;
    bad[a.size() + kHeaderSize] ^= 1;
    auto parts = split_batches(bad);
    REQUIRE_FALSE(parts.ok());
    CHECK(parts.error().message.find("batch 1") != std::string::npos);
  }

  TEST_CASE("put_varint.edge_cases_round_trip") {
    struct Case {
      std::uint64_t v;
      std::size_t len;
    };
    for (Case c :
         {Case{0, 1}, Case{1, 1}, Case{127, 1}, Case{128, 2}, Case{16383, 2},
          Case{16384, 3}, Case{(1ull << 63) - 1, 9}, Case{1ull << 63, 10},
          Case{std::numeric_limits<std::uint64_t>::max(), 10}}) {
      std::size_t len = 0;
      CAPTURE(c.v);
      CHECK(varint_round_trip(c.v, &len) == c.v);
      CHECK(len == c.len);
    }
  }

  TEST_CASE("put_zigzag.edge_cases_round_trip") {
    for (std::int64_t v :
         {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1}, std::int64_t{-64},
          std::int64_t{64}, std::numeric_limits<std::int64_t>::min(),
          std::numeric_limits<std::int64_t>::max()}) {
      std::string s;
      put_zigzag(&s, v);
      std::string_view in = s;
      auto got = get_zigzag(&in);
      CAPTURE(v);
      REQUIRE(got.has_value());
      CHECK(*got == v);
    }
    std::string minus_one;
    put_zigzag(&minus_one, -1);
    CHECK(minus_one == std::string("\x01", 1));
  }

  TEST_CASE("get_varint.refuses_truncated_and_overlong_input") {
    std::string s;
    put_varint(&s, std::numeric_limits<std::uint64_t>::max());
    for (std::size_t n = 0; n < s.size(); ++n) {
      std::string_view in = std::string_view(s).substr(0, n);
      CHECK_FALSE(get_varint(&in).has_value());
      CHECK(in.size() == n);  // unchanged
    }
    std::string overflow(9, '\xff');
    overflow.push_back('\x02');  // bit 64 set
    std::string_view in = overflow;
    CHECK_FALSE(get_varint(&in).has_value());
    std::string eleven(10, '\x80');
    eleven.push_back('\x00');
    in = eleven;
    CHECK_FALSE(get_varint(&in).has_value());
    // A non-minimal encoding is accepted (it is still one value).
    std::string padded("\x80\x00", 2);
    in = padded;
    CHECK(get_varint(&in) == std::optional<std::uint64_t>(0));
  }

  TEST_CASE("partition_for_key.is_crc32c_modulo_partitions") {
    CHECK(partition_for_key("123456789", 1000) == 0xE3069283u % 1000);
    CHECK(partition_for_key("", 7) == 0);
    CHECK(partition_for_key("anything", 1) == 0);
    CHECK(partition_for_key("anything", 0) == 0);
    for (int i = 0; i < 100; ++i) {
      const std::string key = "key-" + std::to_string(i);
      CHECK(partition_for_key(key, 12) < 12);
      CHECK(partition_for_key(key, 12) == partition_for_key(key, 12));
    }
  }
}

}  // namespace nw::records
