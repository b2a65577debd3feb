#include "common/http/forward.h"

#include "common/http/client.h"
#include "common/http/endpoint.h"
#include "common/http/url.h"

namespace nw::http {
namespace {

// The path as sent: each segment percent-encoded, the slashes kept.
std::string encode_path(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::size_t end =
        slash == std::string_view::npos ? path.size() : slash;
    out += percent_encode(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

}  // namespace

bool forwarded(const Request& r) { return r.has_param("forwarded"); }

Response forward(const Request& r, std::string_view api_addr,
                 Duration timeout) {
  if (forwarded(r)) {
    return Response::error(
        Error(Code::unavailable,
              "the request was forwarded once already and still did not reach "
              "the agent that can answer it (a leader changed)",
              "retry in a moment", "http"));
  }
  Result<Endpoint> ep = parse_endpoint(api_addr);
  if (api_addr.empty() || !ep.ok()) {
    return Response::error(
        Error(Code::unavailable,
              "no API address is known for the agent to forward to",
              "retry in a moment", "http"));
  }
  ClientOptions opts;
  opts.timeout = timeout;
  Client client({*ep}, opts);
  std::string path = encode_path(r.path) + "?forwarded=1";
  for (const auto& [k, v] : r.params) {
    if (k == "forwarded") continue;
    path += "&" + percent_encode(k) + "=" + percent_encode(v);
  }
  std::string content_type = r.header("Content-Type");
  if (content_type.empty()) content_type = "application/json";
  Result<Response> resp = client.send(r.method, path, r.body, content_type);
  if (!resp.ok()) return Response::error(resp.error());
  // Only the API's own headers travel on; the server sets the framing ones.
  HeaderList headers;
  for (auto& [k, v] : resp->headers) {
    if (k.size() > 3 && (k.rfind("NW-", 0) == 0 || k.rfind("nw-", 0) == 0)) {
      headers.emplace_back(k, v);
    }
  }
  resp->headers = std::move(headers);
  return std::move(resp).value();
}

}  // namespace nw::http
