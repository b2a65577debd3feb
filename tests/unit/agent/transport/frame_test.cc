#include "agent/transport/frame.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "common/base/crc32c.h"

namespace nw::transport {
namespace {

constexpr std::uint32_t kMax = 1 << 20;

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + 3);
  return s;
}

TEST_SUITE("transport.frame") {
  TEST_CASE("decode_frame.round_trips_every_field") {
    for (std::size_t size : {0u, 1u, 17u, 1000u, 70000u}) {
      for (std::uint64_t group : {std::uint64_t{0}, std::uint64_t{1},
                                  std::numeric_limits<std::uint64_t>::max()}) {
        const std::string payload = pattern(size);
        const std::string f = encode_frame(FrameType::message, group, payload);
        CHECK(f.size() == frame_size(size));
        DecodeResult r = decode_frame(f, kMax);
        REQUIRE(r.kind == DecodeResult::Kind::frame);
        CHECK(r.frame.type == FrameType::message);
        CHECK(r.frame.group == group);
        CHECK(r.frame.payload == payload);
        CHECK(r.frame.size == f.size());
      }
    }
  }

  TEST_CASE("decode_frame.reads_back_to_back_frames_one_at_a_time") {
    std::string stream;
    append_frame(stream, FrameType::hello, 0, "first");
    append_frame(stream, FrameType::message, 9, "second");
    DecodeResult a = decode_frame(stream, kMax);
    REQUIRE(a.kind == DecodeResult::Kind::frame);
    CHECK(a.frame.payload == "first");
    DecodeResult b =
        decode_frame(std::string_view(stream).substr(a.frame.size), kMax);
    REQUIRE(b.kind == DecodeResult::Kind::frame);
    CHECK(b.frame.group == 9);
    CHECK(b.frame.payload == "second");
  }

  TEST_CASE("decode_frame.every_truncation_needs_more_bytes") {
    const std::string f = encode_frame(FrameType::message, 42, pattern(100));
    for (std::size_t n = 0; n < f.size(); ++n) {
      DecodeResult r = decode_frame(std::string_view(f).substr(0, n), kMax);
      INFO("truncated to " << n);
      REQUIRE(r.kind == DecodeResult::Kind::need_more);
      CHECK(r.needed == (n < 4 ? kFrameHeaderSize : f.size()));
    }
  }

  TEST_CASE("decode_frame.every_single_bit_flip_is_detected") {
    const std::string f = encode_frame(FrameType::message, 42, pattern(64));
    for (std::size_t bit = 0; bit < f.size() * 8; ++bit) {
      std::string g = f;
      g[bit / 8] = static_cast<char>(g[bit / 8] ^ (1 << (bit % 8)));
      DecodeResult r = decode_frame(g, kMax);
      INFO("bit " << bit);
      // A longer length waits for bytes that never match the checksum; any
      // other flip is refused at once.
      CHECK(r.kind != DecodeResult::Kind::frame);
    }
  }

  TEST_CASE("decode_frame.refuses_a_length_over_the_limit_from_four_bytes") {
    std::string f = encode_frame(FrameType::message, 1, pattern(2000));
    DecodeResult r = decode_frame(std::string_view(f).substr(0, 4), 1024);
    REQUIRE(r.kind == DecodeResult::Kind::bad);
    CHECK(r.defect == FrameDefect::too_large);
    CHECK(r.detail.find("exceeds max_frame_size 1024") != std::string::npos);
  }

  TEST_CASE("decode_frame.refuses_a_length_below_the_header") {
    const std::string f("\x10\0\0\0", 4);
    DecodeResult r = decode_frame(f, kMax);
    REQUIRE(r.kind == DecodeResult::Kind::bad);
    CHECK(r.defect == FrameDefect::bad_length);
  }

  TEST_CASE("decode_frame.refuses_an_unknown_type_with_a_good_crc") {
    const std::string f =
        encode_frame(static_cast<FrameType>(99), 1, "payload");
    DecodeResult r = decode_frame(f, kMax);
    REQUIRE(r.kind == DecodeResult::Kind::bad);
    CHECK(r.defect == FrameDefect::unknown_type);
    CHECK(to_string(r.defect) == "unknown_type");
  }

  TEST_CASE("decode_frame.matches_the_documented_layout") {
    // docs/formats/peer-frames.md, example: a message for group 2 with
    // payload "hi".
    const std::string f = encode_frame(FrameType::message, 2, "hi");
    const std::string head("\x13\0\0\0", 4);
    CHECK(f.substr(0, 4) == head);
    CHECK(f[8] == '\x02');
    CHECK(f.substr(9, 8) == std::string("\x02\0\0\0\0\0\0\0", 8));
    CHECK(f.substr(17) == "hi");
    const std::uint32_t crc =
        crc32c_extend(crc32c(head), f.data() + 8, f.size() - 8);
    std::string crc_le;
    for (int i = 0; i < 4; ++i) {
      crc_le.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
    }
    CHECK(f.substr(4, 4) == crc_le);
    CHECK(f.substr(4, 4) == "\xfd\x83\xa8\x23");  // as printed in the doc
  }

  TEST_CASE("decode_hello.round_trips") {
    Hello h;
    h.listen_port = 7071;
    h.node_id = "nw-1a2b3c4d";
    h.cluster_id = "prod";
    auto r = decode_hello(encode_hello(h));
    REQUIRE(r.ok());
    CHECK(r->version == kProtocolVersion);
    CHECK(r->listen_port == 7071);
    CHECK(r->node_id == "nw-1a2b3c4d");
    CHECK(r->cluster_id == "prod");
  }

  TEST_CASE("decode_hello.refuses_truncated_trailing_and_empty_id") {
    Hello h;
    h.node_id = "nw-1";
    const std::string good = encode_hello(h);
    for (std::size_t n = 0; n < good.size(); ++n) {
      CHECK_FALSE(decode_hello(good.substr(0, n)).ok());
    }
    CHECK_FALSE(decode_hello(good + "x").ok());
    h.node_id.clear();
    auto r = decode_hello(encode_hello(h));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "bad hello: empty node id");
  }
}

}  // namespace
}  // namespace nw::transport
