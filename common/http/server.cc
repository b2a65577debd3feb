#include "common/http/server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "common/api/error_body.h"
#include "common/base/assert.h"
#include "common/base/log.h"
#include "common/base/strings.h"
#include "common/base/time.h"
#include "common/http/sockets.h"

namespace nw::http {
namespace {

const log::Logger kLog("http");
constexpr const char* kUnmatched = "unmatched";
constexpr const char* kApiHint = "see docs/api.md for the API";
// httplib checks for a stop only between requests, and an idle keep-alive
// connection waits this long for its next request: it bounds how long an
// idle client can hold up stop(). httplib's default is 5 s.
constexpr time_t kKeepAliveTimeoutSeconds = 1;
// How often stop() reports handlers that are still running.
constexpr auto kStopWarnInterval = std::chrono::seconds(5);

// What the pre-routing hook, the dispatcher and the logger hook of one
// request tell each other. All three run on the same pool thread, one
// request at a time, so a thread-local needs no lock.
struct RequestState {
  bool started = false;     // pre-routing ran
  bool dispatched = false;  // our dispatcher produced the response
  MonoTime start;
  std::string route;
};
thread_local RequestState t_request;

// httplib::Server with access to its listening socket: httplib's destructor
// does not close a socket that was bound but never served.
class HttplibServer final : public httplib::Server {
 public:
  void close_unstarted_socket() {
    socket_t s = svr_sock_.exchange(INVALID_SOCKET);
    if (s != INVALID_SOCKET) ::close(s);
  }
};

// The error body for a response httplib produced itself (before routing).
Error error_for_status(int status, const httplib::Request& req,
                       std::uint64_t max_body_size) {
  switch (status) {
    case 413:
      return Error(
          Code::invalid_argument,
          "request body too large: the limit is " + format_size(max_body_size),
          "send less data per request", "http");
    case 414:
      return Error(Code::invalid_argument, "request URI too long",
                   "shorten the path and query", "http");
    case 400:
      return Error(Code::invalid_argument, "malformed HTTP request", kApiHint,
                   "http");
    case 404:
      return Error(Code::not_found, "no route " + req.method + " " + req.path,
                   kApiHint, "http");
    default: {
      Code code = code_from_http_status(status);
      return Error(code == Code::ok ? Code::internal : code,
                   "HTTP " + std::to_string(status), {}, "http");
    }
  }
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  HttplibServer svr;
  // Written by route() before start(), read-only while serving.
  Router router;
  std::function<void(const RequestRecord&)> observer;

  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> running{false};
  std::atomic<int> in_flight{0};  // handlers running now

  // Owner thread only.
  bool bound = false;
  bool started = false;
  bool stopped = false;
  std::thread thread;

  std::mutex mu;
  std::condition_variable cv;
  bool thread_done = false;  // GUARDED_BY(mu)

  explicit Impl(ServerOptions o) : options(std::move(o)) {}

  void configure();
  void dispatch(const httplib::Request& hreq, httplib::Response& hres);
  Response route_request(const httplib::Request& hreq);
  Response call(const std::string& label, const Handler& handler,
                const Request& req);
  void observe(const httplib::Request& hreq, const httplib::Response& hres);
};

void Server::Impl::configure() {
  size_t threads = static_cast<size_t>(std::max(1, options.threads));
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_tcp_nodelay(true);
  // httplib's default sets SO_REUSEPORT, which would let two agents share a
  // port; SO_REUSEADDR alone still allows a quick restart.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  svr.set_read_timeout(options.read_timeout);
  svr.set_write_timeout(options.write_timeout);
  svr.set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
  svr.set_payload_max_length(static_cast<size_t>(options.max_body_size));

  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    dispatch(req, res);
  };
  // Our own router behind one catch-all per method: httplib's would answer
  // unknown paths with an empty 404 and cannot label routes.
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Patch(".*", handler);
  svr.Delete(".*", handler);
  svr.Options(".*", handler);

  svr.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    t_request = RequestState{};
    t_request.started = true;
    t_request.start = mono_now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Called for every response with status >= 400; fills in the error body of
  // those httplib produced itself (malformed request, body too large).
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (t_request.dispatched) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        res.body = api::error_to_json(
            error_for_status(res.status, req, options.max_body_size));
        res.set_header("Content-Type", "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_logger([this](const httplib::Request& req,
                        const httplib::Response& res) { observe(req, res); });
}

Response Server::Impl::call(const std::string& label, const Handler& handler,
                            const Request& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    kLog.error("handler threw", {{"method", req.method},
                                 {"route", label},
                                 {"path", req.path},
                                 {"what", e.what()}});
  } catch (...) {
    kLog.error("handler threw", {{"method", req.method},
                                 {"route", label},
                                 {"path", req.path},
                                 {"what", "a non-std::exception"}});
  }
  return Response::error(Error(
      Code::internal, "internal error handling " + req.method + " " + req.path,
      "this is a bug: the agent's log has the details; please report "
      "it",
      "http"));
}

void Server::Impl::dispatch(const httplib::Request& hreq,
                            httplib::Response& hres) {
  t_request.dispatched = true;
  in_flight.fetch_add(1);
  Response resp;
  std::string failure;
  try {
    resp = route_request(hreq);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "a non-std::exception";
  }
  if (!failure.empty()) {
    // Only std::regex or an allocation gets here; handlers are guarded.
    kLog.error(
        "routing failed",
        {{"method", hreq.method}, {"path", hreq.path}, {"what", failure}});
    resp = Response::error(
        Error(Code::internal,
              "internal error routing " + hreq.method + " " + hreq.path,
              "this is a bug: the agent's log has the details", "http"));
  }
  in_flight.fetch_sub(1);

  hres.status = resp.status;
  for (const auto& [k, v] : resp.headers) hres.set_header(k, v);
  hres.body = std::move(resp.body);
  if (!resp.content_type.empty()) {
    hres.set_header("Content-Type", resp.content_type);
  }
}

Response Server::Impl::route_request(const httplib::Request& hreq) {
  Request req;
  req.method = hreq.method;
  req.path = hreq.path;
  // httplib hands handlers a const reference to its own, non-const request
  // and no longer needs the body: take it instead of copying up to
  // max_body_size bytes.
  req.body = std::move(const_cast<httplib::Request&>(hreq).body);
  req.remote_addr = hreq.remote_addr;
  req.remote_port = hreq.remote_port;
  req.params.assign(hreq.params.begin(), hreq.params.end());
  req.headers.assign(hreq.headers.begin(), hreq.headers.end());

  Router::Match m = router.match(hreq.method, hreq.path);
  if (m.handler != nullptr) {
    req.matches = std::move(m.captures);
    t_request.route = *m.label;
    return call(*m.label, *m.handler, req);
  }
  t_request.route = kUnmatched;
  std::string hint = kApiHint;
  if (!m.allowed.empty()) {
    hint = hreq.path + " accepts " + join(m.allowed, ", ") + "; " + kApiHint;
  }
  return Response::error(Error(Code::not_found,
                               "no route " + hreq.method + " " + hreq.path,
                               std::move(hint), "http"));
}

void Server::Impl::observe(const httplib::Request& hreq,
                           const httplib::Response& hres) {
  RequestState st = std::exchange(t_request, RequestState{});
  if (!observer) return;
  RequestRecord rec;
  rec.method = hreq.method;
  rec.route = st.dispatched && !st.route.empty() ? st.route : kUnmatched;
  rec.status = hres.status;
  if (st.started) {
    rec.seconds = std::chrono::duration<double>(mono_now() - st.start).count();
  }
  try {
    observer(rec);
  } catch (const std::exception& e) {
    kLog.error("request observer threw", {{"what", e.what()}});
  } catch (...) {
    kLog.error("request observer threw", {{"what", "a non-std::exception"}});
  }
}

Server::Server(ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->configure();
}

Server::~Server() { stop(); }

void Server::route(std::string method, std::string pattern,
                   std::string route_label, Handler handler) {
  NW_ASSERT(!impl_->started, "http::Server::route() after start()");
  impl_->router.add(std::move(method), pattern, std::move(route_label),
                    std::move(handler));
}

void Server::set_observer(std::function<void(const RequestRecord&)> observer) {
  NW_ASSERT(!impl_->started, "http::Server::set_observer() after start()");
  impl_->observer = std::move(observer);
}

Status Server::bind() {
  NW_ASSERT(!impl_->bound && !impl_->stopped,
            "http::Server::bind() twice or after stop()");
  const HostPort& listen = impl_->options.listen;
  int port = -1;
  if (listen.port == 0) {
    port = impl_->svr.bind_to_any_port(listen.host);
  } else if (impl_->svr.bind_to_port(listen.host, listen.port)) {
    port = listen.port;
  }
  if (port <= 0) return detail::bind_error(listen);
  impl_->port = static_cast<std::uint16_t>(port);
  impl_->bound = true;
  return ok_status();
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::start() {
  Impl& s = *impl_;
  NW_ASSERT(s.bound, "http::Server::start() before a successful bind()");
  NW_ASSERT(!s.started, "http::Server::start() twice");
  NW_ASSERT(!s.stopped, "http::Server::start() after stop()");
  s.started = true;
  s.thread = std::thread([&s] {
    // The pool threads are created by this one and inherit the mask.
    detail::block_sigpipe();
    if (!s.svr.listen_after_bind()) {
      kLog.error("accept loop failed", {{"port", s.port.load()}});
    }
    std::lock_guard<std::mutex> lock(s.mu);
    s.thread_done = true;
    s.cv.notify_all();
  });
  // httplib's stop() does nothing until listen_after_bind() has marked the
  // server running; wait for that so that a stop() right after start() is
  // not lost (the accept loop would then never end).
  std::unique_lock<std::mutex> lock(s.mu);
  while (!s.svr.is_running() && !s.thread_done) {
    s.cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  s.running = s.svr.is_running();
  kLog.debug("listening",
             {{"host", s.options.listen.host}, {"port", s.port.load()}});
}

void Server::stop() {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  if (!s.started) {
    s.svr.close_unstarted_socket();
    return;
  }
  s.svr.stop();
  s.running = false;
  std::unique_lock<std::mutex> lock(s.mu);
  while (
      !s.cv.wait_for(lock, kStopWarnInterval, [&s] { return s.thread_done; })) {
    kLog.warn("stopping: waiting for requests in flight",
              {{"port", s.port.load()}, {"handlers", s.in_flight.load()}});
  }
  lock.unlock();
  s.thread.join();
}

bool Server::running() const { return impl_->running; }

}  // namespace nw::http
