#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/base/units.h"
#include "common/base/version.h"
#include "common/http/endpoint.h"
#include "common/http/message.h"

namespace nw::http {

struct ClientOptions {
  // Sent as "Authorization: Bearer <token>"; empty: no header.
  std::string token;
  // PEM file with the CA that signed the agents' certificates (https only);
  // empty: the system's trust store.
  std::string ca_cert;
  Duration connect_timeout = std::chrono::seconds(2);
  // For each read and each write on the connection.
  Duration timeout = std::chrono::seconds(10);
  std::string user_agent = std::string("nwctl/") + kVersion;
  // Keeps the connection open between requests (many requests to one
  // agent: produce, consume, bench). A request on a connection the agent
  // closed meanwhile may then fail as unavailable although it was never
  // processed, or after it was: use it only where requests are retried
  // safely (reads, idempotent produce).
  bool keep_alive = false;
};

// An API client for a list of agents (DESIGN.md: --addr is a list, tried in
// turn). Each request tries the endpoints in order, starting with the one
// that answered last, until one accepts the connection; only connection
// failures (refused, unreachable, connect timeout, TLS handshake) move on to
// the next. Once a request has reached an agent its outcome is final, so a
// POST is never sent twice.
//
// Each request opens its own connection (no keep-alive unless asked for:
// a stale pooled connection would make a failure ambiguous) with TCP_NODELAY
// (without it loopback requests crawl at ~16/s).
//
// Lifecycle: construct, then call any methods; destroy when done.
// Threads: thread-compatible; use one Client per thread. SIGPIPE is blocked
// on the calling thread while a request runs, so a peer that goes away
// never kills the process.
class Client {
 public:
  // REQUIRES: endpoints is not empty.
  Client(std::vector<Endpoint> endpoints, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request; path includes any query ("/v1/x?a=1") and is sent as
  // given (use percent_encode() from url.h for names). Returns the 2xx
  // response, or:
  // - the decoded API error for any other status (api::error_from_body);
  // - unavailable "no agent at 127.0.0.1:7070: connection refused" (with
  //   several endpoints "no agent answered at a, b: <last reason>") and hint
  //   "is nwagent running? set --addr or NW_ADDR" when no endpoint accepted
  //   the connection; TLS failures say so and point at --ca-cert/NW_CACERT;
  // - timeout "request to 127.0.0.1:7070 timed out after 10s" when the
  //   agent took longer than options.timeout;
  // - unavailable when the agent closed the connection without answering.
  Result<Response> get(std::string_view path);
  Result<Response> post(std::string_view path, std::string_view body,
                        std::string_view content_type = "application/json");
  Result<Response> put(std::string_view path, std::string_view body,
                       std::string_view content_type = "application/json");
  Result<Response> patch(std::string_view path, std::string_view body,
                         std::string_view content_type = "application/json");
  Result<Response> del(std::string_view path);
  // Any of the above by name ("GET", "POST", "PUT", "PATCH", "DELETE"; HEAD
  // is sent as GET), for forwarding a request. Errors: invalid_argument for
  // another method; else as above.
  Result<Response> send(std::string_view method, std::string_view path,
                        std::string_view body,
                        std::string_view content_type = "application/json");

  // The endpoint the next request tries first (the last one that answered).
  const Endpoint& current() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nw::http
