#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/net.h"
#include "common/base/result.h"
#include "common/base/units.h"
#include "common/http/message.h"
#include "common/http/router.h"

namespace nw::http {

struct ServerOptions {
  HostPort listen{"127.0.0.1", 7070};  // port 0: any free port (tests)
  int threads = 8;                     // pool size, >= 1
  Duration read_timeout = std::chrono::seconds(30);
  Duration write_timeout = std::chrono::seconds(30);
  std::uint64_t max_body_size = 16ULL << 20;  // larger bodies answer 413
};

// What the observer learns about each response.
struct RequestRecord {
  std::string method;
  // The route label given to route(), or "unmatched" (404s, and requests
  // httplib rejected before routing: malformed, body too large).
  std::string route;
  int status = 0;
  // From having read the request's headers to having written the
  // response (0 for requests too malformed to route).
  double seconds = 0;
};

// An HTTP server on a thread pool (cpp-httplib underneath).
//
// Lifecycle: construct, add routes and the observer, bind(), start(),
// stop(). stop() is idempotent and also runs from the destructor. A server
// is started at most once.
//
// Threads: route(), set_observer(), bind(), start() and stop() belong to the
// owner's thread; running() and port() may be called from any thread.
// Handlers and the observer run on the pool's threads (options.threads of
// them, created by start(), joined by stop()), which block SIGPIPE.
//
// Responses: a request that matches no route answers 404 with
//   {"error":{"code":"not_found","message":"no route GET /x",
//             "hint":"see docs/api.md for the API"}}
// a body over max_body_size answers 413 with an invalid_argument error body,
// a malformed request 400. TCP_NODELAY is on; SO_REUSEADDR is set (restart
// while old connections linger) but not SO_REUSEPORT, so a second agent on
// the same port fails to bind instead of sharing it.
//
// Stopping: stop() closes the listening socket, lets every request already
// read run to completion and answers it, then joins the threads. Handlers
// cannot be abandoned safely, so stop() waits for each to return (logging a
// warning every few seconds while any still run): handlers must not block
// without a deadline. An idle keep-alive connection is closed within 1 s
// (httplib only notices a stop between requests, so the server keeps the
// keep-alive timeout that short).
class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds a route. pattern is an ECMAScript regex that must match the whole
  // (percent-decoded) path, e.g. "/v1/topics/([^/]+)"; its captures are in
  // Request::matches. route_label names the route for metrics and logs,
  // e.g. "/v1/topics/{name}". The first matching route wins. HEAD requests
  // are routed as GET.
  // REQUIRES: before start(); pattern is a valid regex.
  void route(std::string method, std::string pattern, std::string route_label,
             Handler handler);

  // Called after every response is written (404s and 500s included), on the
  // pool thread that wrote it; must be thread-safe. An exception from it is
  // logged and dropped.
  // REQUIRES: before start().
  void set_observer(std::function<void(const RequestRecord&)> observer);

  // Opens the listening socket. io_error "listen on 127.0.0.1:7070: address
  // already in use" (hint: stop the other process or pick another port with
  // --api-listen), "...: permission denied", "...: address not available",
  // "...: cannot resolve \"host\": ...". REQUIRES: not bound yet.
  Status bind();

  // The bound port (the OS's choice when options.listen.port was 0); 0
  // before bind().
  std::uint16_t port() const;

  // Serves on a background thread until stop().
  // REQUIRES: bind() succeeded; not started before.
  void start();

  // Stops accepting, lets requests in flight finish, joins the threads.
  // Idempotent; also fine on a server that was never bound or started.
  void stop();

  // True from start() until stop() has closed the listening socket.
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nw::http
