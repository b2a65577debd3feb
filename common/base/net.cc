#include "common/base/net.h"

#include <charconv>

namespace nw {

std::string HostPort::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view text, int default_port) {
  auto bad = [&] {
    return Error(Code::invalid_argument,
                 "expected host:port, got \"" + std::string(text) + "\"", {},
                 "net");
  };
  HostPort hp;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close == 1) return bad();
    hp.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos &&
        text.find(':') != colon) {  // bare IPv6 without brackets
      return bad();
    }
    hp.host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{}
                                           : text.substr(colon);
  }
  if (hp.host.empty()) return bad();
  // "7070" alone is a port without a host, not a host named 7070.
  if (hp.host.find_first_not_of("0123456789") == std::string::npos) {
    return bad();
  }
  for (char c : hp.host) {
    if (c == ' ' || c == '/' || c == '@') return bad();
  }
  if (rest.empty()) {
    if (default_port < 0) return bad();
    hp.port = static_cast<std::uint16_t>(default_port);
    return hp;
  }
  if (rest.front() != ':' || rest.size() == 1) return bad();
  rest.remove_prefix(1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
  if (ec != std::errc() || p != rest.data() + rest.size() || port > 65535) {
    return bad();
  }
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

}  // namespace nw
