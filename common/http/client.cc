#include "common/http/client.h"

#include <httplib.h>

#include <exception>

#include "common/api/error_body.h"
#include "common/base/assert.h"
#include "common/base/log.h"
#include "common/base/strings.h"
#include "common/base/time.h"
#include "common/http/sockets.h"

namespace nw::http {
namespace {

const log::Logger kLog("http");
constexpr std::string_view kDomain = "http";
constexpr const char* kNoAgentHint =
    "is nwagent running? set --addr or NW_ADDR";
constexpr const char* kTlsHint =
    "check that the agent serves https at this address and that --ca-cert "
    "or NW_CACERT names the CA that signed its certificate";

enum class Method { get, post, put, patch, del };

std::string_view method_name(Method m) {
  switch (m) {
    case Method::get:
      return "GET";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::patch:
      return "PATCH";
    case Method::del:
      return "DELETE";
  }
  return "GET";
}

// How one attempt on one endpoint ended, when it did not produce a response.
struct Failure {
  bool try_next = false;  // a connection-level failure: nothing was sent
  bool tls = false;
  std::string reason;  // for try_next
  Error final_error;   // for !try_next
};

Response to_response(httplib::Response&& r) {
  Response out;
  out.status = r.status;
  out.body = std::move(r.body);
  out.content_type = r.get_header_value("Content-Type");
  out.headers.reserve(r.headers.size());
  for (auto& [k, v] : r.headers) out.headers.emplace_back(k, v);
  return out;
}

}  // namespace

struct Client::Impl {
  std::vector<Endpoint> endpoints;
  ClientOptions options;
  // One httplib client per endpoint, made on first use.
  std::vector<std::unique_ptr<httplib::ClientImpl>> conns;
  size_t current = 0;

  httplib::ClientImpl& conn(size_t i);
  Result<Response> send(Method method, std::string_view path,
                        std::string_view body, std::string_view content_type);
  Failure classify(httplib::Error err, size_t i, Duration elapsed) const;
};

httplib::ClientImpl& Client::Impl::conn(size_t i) {
  if (conns[i]) return *conns[i];
  const Endpoint& ep = endpoints[i];
  std::unique_ptr<httplib::ClientImpl> c;
  if (ep.scheme == "https") {
    auto ssl = std::make_unique<httplib::SSLClient>(ep.addr.host, ep.addr.port);
    if (!options.ca_cert.empty()) ssl->set_ca_cert_path(options.ca_cert);
    ssl->enable_server_certificate_verification(true);
    c = std::move(ssl);
  } else {
    c = std::make_unique<httplib::ClientImpl>(ep.addr.host, ep.addr.port);
  }
  c->set_tcp_nodelay(true);
  c->set_keep_alive(options.keep_alive);
  c->set_url_encode(false);  // paths arrive encoded (url.h)
  c->set_follow_location(false);
  c->set_connection_timeout(options.connect_timeout);
  c->set_read_timeout(options.timeout);
  c->set_write_timeout(options.timeout);
  if (!options.token.empty()) c->set_bearer_token_auth(options.token);
  c->set_default_headers({{"User-Agent", options.user_agent}});
  conns[i] = std::move(c);
  return *conns[i];
}

Failure Client::Impl::classify(httplib::Error err, size_t i,
                               Duration elapsed) const {
  const Endpoint& ep = endpoints[i];
  auto final_error = [](Code code, std::string message, std::string hint) {
    Failure f;
    f.final_error = Error(code, std::move(message), std::move(hint), kDomain);
    return f;
  };
  auto next = [](std::string reason, bool tls) {
    Failure f;
    f.try_next = true;
    f.tls = tls;
    f.reason = std::move(reason);
    return f;
  };
  // A read or write that failed after waiting the whole timeout timed out;
  // one that failed sooner found the connection closed.
  bool timed_out = elapsed >= options.timeout * 9 / 10;
  switch (err) {
    case httplib::Error::Connection:
      return next(
          detail::describe_connect_failure(ep.addr, options.connect_timeout),
          false);
    case httplib::Error::ConnectionTimeout:
      return next("connection timed out after " +
                      format_duration(options.connect_timeout),
                  false);
    case httplib::Error::BindIPAddress:
      return next("cannot bind the local address", false);
    case httplib::Error::SSLConnection:
      return next("TLS handshake failed", true);
    case httplib::Error::SSLServerVerification:
      return next("the agent's TLS certificate did not verify", true);
    case httplib::Error::SSLLoadingCerts:
      return final_error(
          Code::unavailable,
          options.ca_cert.empty()
              ? "cannot load the system's CA certificates"
              : "cannot load the CA certificate \"" + options.ca_cert + "\"",
          "--ca-cert or NW_CACERT must name a readable PEM "
          "file with the CA that signed the agents' "
          "certificates");
    case httplib::Error::Read:
    case httplib::Error::Write:
      if (timed_out) {
        return final_error(Code::timeout,
                           "request to " + ep.display() + " timed out after " +
                               format_duration(options.timeout),
                           "raise --timeout or check the agent's load");
      }
      return final_error(
          Code::unavailable,
          "request to " + ep.display() +
              " failed: the agent closed the connection without answering",
          "the agent may have restarted: check its log, then retry (the "
          "request may have been carried out)");
    default:
      return final_error(
          Code::unavailable,
          "request to " + ep.display() + " failed: " + httplib::to_string(err),
          {});
  }
}

Result<Response> Client::Impl::send(Method method, std::string_view path,
                                    std::string_view body,
                                    std::string_view content_type) {
  detail::ScopedSigpipeBlock no_sigpipe;
  const std::string p(path);
  const std::string ct(content_type);
  std::string last_reason;
  bool last_tls = false;
  for (size_t n = 0; n < endpoints.size(); ++n) {
    size_t i = (current + n) % endpoints.size();
    httplib::ClientImpl& c = conn(i);
    MonoTime start = mono_now();
    httplib::Result r = [&] {
      switch (method) {
        case Method::get:
          return c.Get(p);
        case Method::post:
          return c.Post(p, body.data(), body.size(), ct);
        case Method::put:
          return c.Put(p, body.data(), body.size(), ct);
        case Method::patch:
          return c.Patch(p, body.data(), body.size(), ct);
        case Method::del:
          return c.Delete(p);
      }
      return c.Get(p);
    }();
    if (r) {
      current = i;
      Response resp = to_response(std::move(r.value()));
      if (resp.status >= 200 && resp.status < 300) return resp;
      return api::error_from_body(resp.status, resp.body);
    }
    auto elapsed = std::chrono::duration_cast<Duration>(mono_now() - start);
    Failure f = classify(r.error(), i, elapsed);
    if (!f.try_next) {
      current = i;  // it accepted the connection
      return std::move(f.final_error);
    }
    kLog.debug("agent unreachable", {{"endpoint", endpoints[i].display()},
                                     {"method", method_name(method)},
                                     {"path", p},
                                     {"reason", f.reason}});
    last_reason = std::move(f.reason);
    last_tls = f.tls;
  }
  std::string where;
  if (endpoints.size() == 1) {
    where = "no agent at " + endpoints[0].display();
  } else {
    std::vector<std::string> names;
    for (const Endpoint& ep : endpoints) names.push_back(ep.display());
    where = "no agent answered at " + join(names, ", ");
  }
  return Error(Code::unavailable, where + ": " + last_reason,
               last_tls ? kTlsHint : kNoAgentHint, kDomain);
}

Client::Client(std::vector<Endpoint> endpoints, ClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  NW_ASSERT(!endpoints.empty(), "http::Client needs at least one endpoint");
  impl_->endpoints = std::move(endpoints);
  impl_->options = std::move(options);
  impl_->conns.resize(impl_->endpoints.size());
}

Client::~Client() = default;

namespace {

// httplib reports failures as values, but std::regex and allocation can
// throw; nothing may leave the module as an exception.
template <class F>
Result<Response> guarded(F f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error(Code::internal, std::string("http client: ") + e.what(), {},
                 kDomain);
  }
}

}  // namespace

Result<Response> Client::get(std::string_view path) {
  return guarded([&] { return impl_->send(Method::get, path, {}, {}); });
}

Result<Response> Client::post(std::string_view path, std::string_view body,
                              std::string_view content_type) {
  return guarded(
      [&] { return impl_->send(Method::post, path, body, content_type); });
}

Result<Response> Client::put(std::string_view path, std::string_view body,
                             std::string_view content_type) {
  return guarded(
      [&] { return impl_->send(Method::put, path, body, content_type); });
}

Result<Response> Client::patch(std::string_view path, std::string_view body,
                               std::string_view content_type) {
  return guarded(
      [&] { return impl_->send(Method::patch, path, body, content_type); });
}

Result<Response> Client::del(std::string_view path) {
  return guarded([&] { return impl_->send(Method::del, path, {}, {}); });
}

Result<Response> Client::send(std::string_view method, std::string_view path,
                              std::string_view body,
                              std::string_view content_type) {
  if (method == "GET" || method == "HEAD") return get(path);
  if (method == "POST") return post(path, body, content_type);
  if (method == "PUT") return put(path, body, content_type);
  if (method == "PATCH") return patch(path, body, content_type);
  if (method == "DELETE") return del(path);
  return Error(Code::invalid_argument,
               "http client: unsupported method " + std::string(method), {},
               kDomain);
}

const Endpoint& Client::current() const {
  return impl_->endpoints[impl_->current];
}

}  // namespace nw::http
