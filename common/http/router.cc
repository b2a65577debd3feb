// GCC 12 warns falsely inside std::regex's compiler when sanitizers are on
// (-Wmaybe-uninitialized in std::function, GCC bug 105562). The warning is
// reported at the libstdc++ line, so the pragma has to come before the
// first standard header; this file holds nothing but the routing table.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "common/http/router.h"

#include <regex>

#include "common/base/assert.h"

namespace nw::http {
namespace detail {

struct CompiledRoute {
  std::string method;
  std::regex pattern;
  std::string label;
  Handler handler;
};

}  // namespace detail

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

void Router::add(std::string method, std::string_view pattern,
                 std::string label, Handler handler) {
  auto r = std::make_unique<detail::CompiledRoute>();
  r->method = std::move(method);
  try {
    r->pattern =
        std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    NW_ASSERT(false, ("invalid route pattern \"" + std::string(pattern) +
                      "\": " + e.what())
                         .c_str());
  }
  r->label = std::move(label);
  r->handler = std::move(handler);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(std::string_view method,
                            const std::string& path) const {
  if (method == "HEAD") method = "GET";
  Match out;
  for (const auto& r : routes_) {
    std::smatch m;
    if (!std::regex_match(path, m, r->pattern)) continue;
    if (r->method != method) {
      out.allowed.push_back(r->method);
      continue;
    }
    out.label = &r->label;
    out.handler = &r->handler;
    out.allowed.clear();
    for (const auto& sub : m) out.captures.push_back(sub.str());
    return out;
  }
  return out;
}

}  // namespace nw::http
