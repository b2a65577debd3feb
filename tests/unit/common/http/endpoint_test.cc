#include "common/http/endpoint.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace nw::http {
namespace {

Endpoint ep(std::string scheme, std::string host, std::uint16_t port) {
  return Endpoint{std::move(scheme), HostPort{std::move(host), port}};
}

}  // namespace

TEST_SUITE("http.endpoint") {
  TEST_CASE("parse_endpoint.accepts_scheme_less") {
    CHECK(parse_endpoint("127.0.0.1:7070").value() ==
          ep("http", "127.0.0.1", 7070));
    CHECK(parse_endpoint("localhost").value() == ep("http", "localhost", 7070));
    CHECK(parse_endpoint("agent-1.example:8080").value() ==
          ep("http", "agent-1.example", 8080));
    CHECK(parse_endpoint("[::1]:7070").value() == ep("http", "::1", 7070));
    CHECK(parse_endpoint("[::1]").value() == ep("http", "::1", 7070));
  }

  TEST_CASE("parse_endpoint.accepts_schemes") {
    CHECK(parse_endpoint("http://h:1").value() == ep("http", "h", 1));
    CHECK(parse_endpoint("https://h").value() == ep("https", "h", 7070));
    CHECK(parse_endpoint("http://h").value() == ep("http", "h", 7070));
    CHECK(parse_endpoint("https://[::1]:9443").value() ==
          ep("https", "::1", 9443));
    CHECK(parse_endpoint("HTTPS://h:1").value() == ep("https", "h", 1));
  }

  TEST_CASE("parse_endpoint.accepts_trailing_slash") {
    CHECK(parse_endpoint("http://h:1/").value() == ep("http", "h", 1));
    CHECK(parse_endpoint("https://h/").value() == ep("https", "h", 7070));
    CHECK(parse_endpoint("h:1/").value() == ep("http", "h", 1));
  }

  TEST_CASE("parse_endpoint.rejects") {
    for (std::string_view bad :
         {"", " ", "ftp://x", "http://", "https:///", "h:abc", "http://h:1/x",
          "http://h:1//", "h:1/x", "http://h:1?x=1", "http://h#f",
          "http://user@h:1", "h:0", "h:65536", "::1", "http:/h", "a b",
          "http://h:1:2", "//h:1"}) {
      CAPTURE(bad);
      auto r = parse_endpoint(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
      CHECK(r.error().message ==
            "--addr: expected host:port or http(s)://host:port, got \"" +
                std::string(bad) + "\"");
      CHECK_FALSE(r.error().hint.empty());
    }
  }

  TEST_CASE("endpoint.to_string_and_display") {
    CHECK(ep("http", "127.0.0.1", 7070).to_string() == "http://127.0.0.1:7070");
    CHECK(ep("http", "127.0.0.1", 7070).display() == "127.0.0.1:7070");
    CHECK(ep("https", "agent", 7070).display() == "https://agent:7070");
    CHECK(ep("http", "::1", 1).to_string() == "http://[::1]:1");
    CHECK(ep("http", "::1", 1).display() == "[::1]:1");
  }

  TEST_CASE("parse_endpoints.list") {
    auto r = parse_endpoints("a:1, https://b ,c");
    REQUIRE(r.ok());
    CHECK(r.value() == std::vector<Endpoint>{ep("http", "a", 1),
                                             ep("https", "b", 7070),
                                             ep("http", "c", 7070)});
    CHECK(parse_endpoints("127.0.0.1:7070").value().size() == 1);
  }

  TEST_CASE("parse_endpoints.rejects") {
    for (std::string_view bad : {"", "  ", ",", "a:1,", "a:1,,b:2", " , a"}) {
      CAPTURE(bad);
      auto r = parse_endpoints(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
      CHECK(r.error().message ==
            "--addr: expected host:port or http(s)://host:port, got \"" +
                std::string(bad) + "\"");
    }
    // A bad entry is named by itself.
    CHECK(parse_endpoints("a:1, b:abc").error().message ==
          "--addr: expected host:port or http(s)://host:port, got \"b:abc\"");
  }
}

}  // namespace nw::http
