#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/base/net.h"
#include "common/base/result.h"
#include "common/base/units.h"

// Local TCP helpers for tests: pick free ports, and a minimal HTTP/1.1 GET
// over a raw socket, independent of the HTTP code under test. No threads.
namespace nw::testsupport {

// A port on 127.0.0.1 that was free a moment ago: binds 127.0.0.1:0, reads
// the port the kernel chose, closes the socket. Racy by nature: another
// process can take the port before the agent binds it, which is why
// AgentProcess::start retries with a new port when that happens.
// io_error when no socket can be bound.
Result<std::uint16_t> free_port();

// True when 127.0.0.1:port can be bound now (SO_REUSEADDR, as servers do).
bool port_is_free(std::uint16_t port);

// What an HTTP server answered. Header names are lower-cased.
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;  // de-chunked
};

// GET http://addr/path with "Connection: close", reading the whole answer.
// Errors: unavailable (connection refused: nothing listens), timeout (the
// whole exchange took longer than `timeout`), io_error (anything else,
// including an answer that is not HTTP/1.x).
Result<HttpResponse> http_get(const HostPort& addr, std::string_view path,
                              Duration timeout = std::chrono::seconds(5));

}  // namespace nw::testsupport
