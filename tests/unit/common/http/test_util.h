#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "common/base/units.h"
#include "common/http/client.h"
#include "common/http/endpoint.h"
#include "common/http/server.h"

// Helpers for the http tests. Plain POSIX; no httplib.
namespace nw::http::testing {

// A port on 127.0.0.1 that refuses connections for this object's lifetime:
// the socket is bound (so no one else gets the port) but never listens.
class ClosedPort {
 public:
  ClosedPort();
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A one-shot flag threads can wait on. Thread-safe.
class Gate {
 public:
  void open();
  bool is_open();
  // True once open, false if timeout passed first.
  bool wait(Duration timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mu_
};

// Sends bytes to 127.0.0.1:port as they are and returns everything the
// server writes back until it closes the connection ("" on failure). For
// requests the Client cannot produce.
std::string raw_exchange(std::uint16_t port, const std::string& bytes);

// Polls predicate until it holds or timeout passes; returns whether it held.
bool wait_until(const std::function<bool()>& predicate,
                Duration timeout = std::chrono::seconds(10));

// ServerOptions for a test server on 127.0.0.1, any free port.
ServerOptions local_options();

// The http endpoint of a bound server on 127.0.0.1.
Endpoint local_endpoint(std::uint16_t port);

// A client for one local port with the given timeout.
ClientOptions client_options(Duration timeout = std::chrono::seconds(10));

}  // namespace nw::http::testing
