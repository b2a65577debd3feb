#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/message.h"

namespace nw::http {

// Answers one request. On a Server it runs on a pool thread, so it must be
// thread-safe. An exception it throws becomes a 500 internal error (and a
// log line); it never reaches httplib or crashes the process.
using Handler = std::function<Response(const Request&)>;

namespace detail {
struct CompiledRoute;
}

// The server's routing table: (method, full-match path regex) -> labelled
// handler. Apart from server.cc so that it can be tested without sockets,
// and so that std::regex is compiled outside the httplib translation unit.
//
// Lifecycle: add() routes, then match() any number of times.
// Threads: add() on one thread before any match(); match() is const and
// safe from many threads at once.
class Router {
 public:
  // What match() found.
  struct Match {
    // The route's label and handler; nullptr when no route has this method
    // and path.
    const std::string* label = nullptr;
    const Handler* handler = nullptr;
    // The regex captures, [0] the whole path (when found).
    std::vector<std::string> captures;
    // When not found: the methods of the routes whose pattern matches.
    std::vector<std::string> allowed;
  };

  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // Adds a route; of several matching routes the first added wins.
  // REQUIRES: pattern is a valid ECMAScript regex (NW_ASSERT otherwise).
  void add(std::string method, std::string_view pattern, std::string label,
           Handler handler);

  // The route for method and path; "HEAD" matches "GET" routes.
  Match match(std::string_view method, const std::string& path) const;

 private:
  std::vector<std::unique_ptr<detail::CompiledRoute>> routes_;
};

}  // namespace nw::http
