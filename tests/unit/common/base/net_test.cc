#include <doctest/doctest.h>

#include <string>

#include "common/base/net.h"

namespace nw {

TEST_SUITE("base.net") {
  TEST_CASE("parse_host_port.valid") {
    CHECK(parse_host_port("127.0.0.1:7070").value() ==
          HostPort{"127.0.0.1", 7070});
    CHECK(parse_host_port("localhost:80").value() == HostPort{"localhost", 80});
    CHECK(parse_host_port("node-1.example.com:0").value() ==
          HostPort{"node-1.example.com", 0});
    CHECK(parse_host_port("[::1]:7070").value() == HostPort{"::1", 7070});
    CHECK(parse_host_port("host:65535").value().port == 65535);
  }

  TEST_CASE("parse_host_port.default_port") {
    CHECK(parse_host_port("localhost", 7070).value() ==
          HostPort{"localhost", 7070});
    CHECK(parse_host_port("[::1]", 7070).value() == HostPort{"::1", 7070});
    CHECK(parse_host_port("localhost:81", 7070).value().port == 81);
    CHECK_FALSE(parse_host_port("localhost").ok());
  }

  TEST_CASE("parse_host_port.errors") {
    for (std::string_view bad :
         {"7070", ":7070", "host:99999", "host:abc", "::1:80", "",
          "host:", "[]:80", "[::1", "[::1]80", "host:-1", "host:80x", "a b:80",
          "user@host:80", "host:65536"}) {
      CAPTURE(bad);
      auto r = parse_host_port(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
      CHECK(r.error().message ==
            "expected host:port, got \"" + std::string(bad) + "\"");
    }
  }

  TEST_CASE("to_string.round_trips") {
    CHECK(HostPort{"127.0.0.1", 7070}.to_string() == "127.0.0.1:7070");
    CHECK(HostPort{"::1", 7070}.to_string() == "[::1]:7070");
    for (std::string_view text :
         {"127.0.0.1:7070", "[::1]:7070", "localhost:0", "[fe80::1]:1"}) {
      CAPTURE(text);
      CHECK(parse_host_port(text).value().to_string() == text);
    }
  }
}

}  // namespace nw
