#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nw {

// A TCP address as users write it: "127.0.0.1:7070", "localhost:7070",
// "[::1]:7070". Port 0 asks the OS for a free port (tests use it).
struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  // "host:port", with brackets around an IPv6 host.
  std::string to_string() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port". With default_port >= 0 the port may be left out.
// invalid_argument "expected host:port, got \"...\"" otherwise.
Result<HostPort> parse_host_port(std::string_view text, int default_port = -1);

}  // namespace nw
