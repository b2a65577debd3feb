#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/error.h"

// The request and response types the client and the server share. One
// Response type serves both, so an agent that forwards a request to another
// agent can hand the answer on as it came.
namespace nw::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// A request as a server handler sees it. Built by the server per request;
// read-only for handlers.
struct Request {
  std::string method;  // "GET", "POST", ... ("HEAD" is routed as GET)
  std::string path;    // percent-decoded, without the query
  std::string body;
  std::string remote_addr;  // the peer's IP address
  int remote_port = 0;
  // The route's regex captures; [0] is the whole path.
  std::vector<std::string> matches;
  // Query parameters (decoded) and headers, in the order received.
  HeaderList params;
  HeaderList headers;

  // The first query parameter called name, or "" if there is none.
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;
  // The first header called name (case-insensitive), or "" if absent.
  std::string header(std::string_view name) const;
};

// A response: what a handler returns, and what Client returns for a 2xx.
struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Extra headers (the server sets Content-Type and Content-Length itself);
  // in a client response, every header received.
  HeaderList headers;

  // The first header called name (case-insensitive), or "" if absent.
  std::string header(std::string_view name) const;

  static Response json(std::string body, int status = 200);
  static Response text(std::string body,
                       std::string content_type = "text/plain; charset=utf-8",
                       int status = 200);
  // Status http_status(e.code), the API error body (common/api/error_body.h).
  static Response error(const Error& e);
};

}  // namespace nw::http
