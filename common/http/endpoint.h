#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/net.h"
#include "common/base/result.h"

namespace nw::http {

// The port an agent's API listens on when an address leaves it out.
inline constexpr std::uint16_t kDefaultPort = 7070;

// An agent's API address as users give it to --addr / NW_ADDR.
struct Endpoint {
  std::string scheme = "http";  // "http" | "https"
  HostPort addr;

  // "http://127.0.0.1:7070", "https://[::1]:7070".
  std::string to_string() const;
  // For messages: "127.0.0.1:7070" for http, the full URL for https (so a
  // user sees when TLS is in play).
  std::string display() const;
  bool operator==(const Endpoint&) const = default;
};

// Parses one agent address: "127.0.0.1:7070", "localhost", "[::1]:7070",
// "http://h:1", "https://h"; the port defaults to 7070 and one trailing "/"
// is allowed. The scheme is case-insensitive.
// invalid_argument "--addr: expected host:port or http(s)://host:port, got
// \"...\"" for anything else (other schemes, paths, queries, user info,
// port 0, bad ports).
Result<Endpoint> parse_endpoint(std::string_view text);

// Parses a comma-separated list of addresses (spaces around commas are
// fine). invalid_argument for an empty list, an empty entry or a bad entry.
Result<std::vector<Endpoint>> parse_endpoints(std::string_view text);

}  // namespace nw::http
