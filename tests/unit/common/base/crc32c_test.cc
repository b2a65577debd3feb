#include <doctest/doctest.h>

#include <string>

#include "common/base/crc32c.h"

TEST_SUITE("base.crc32c") {
  TEST_CASE("crc32c.known_vectors") {
    // RFC 3720 (iSCSI) appendix B.4 and the usual check value.
    CHECK(nw::crc32c("123456789") == 0xE3069283u);
    CHECK(nw::crc32c("") == 0u);
    std::string zeros(32, '\0');
    CHECK(nw::crc32c(zeros) == 0x8A9136AAu);
    std::string ones(32, '\xff');
    CHECK(nw::crc32c(ones) == 0x62A8AB43u);
    std::string inc;
    for (int i = 0; i < 32; ++i) inc += static_cast<char>(i);
    CHECK(nw::crc32c(inc) == 0x46DD794Eu);
  }

  TEST_CASE("crc32c_extend.equals_crc_of_concatenation") {
    std::string a = "hello, ", b = "world and some more bytes to pass 8";
    for (size_t split = 0; split <= a.size() + b.size(); ++split) {
      std::string all = a + b;
      std::uint32_t part = nw::crc32c(all.data(), split);
      CHECK(nw::crc32c_extend(part, all.data() + split, all.size() - split) ==
            nw::crc32c(all));
    }
  }

  TEST_CASE("crc32c.hardware_and_table_agree") {
    std::string s;
    for (int i = 0; i < 4099; ++i) s += static_cast<char>((i * 131) & 0xFF);
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 1000, 4099}) {
      CHECK(nw::crc32c_extend(0, s.data(), n) ==
            nw::crc32c_extend_portable(0, s.data(), n));
    }
  }

  TEST_CASE("crc32c.detects_a_flipped_bit") {
    std::string s(1000, 'x');
    std::uint32_t before = nw::crc32c(s);
    s[517] ^= 0x04;
    CHECK(nw::crc32c(s) != before);
  }
}
