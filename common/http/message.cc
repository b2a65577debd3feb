#include "common/http/message.h"

#include <strings.h>

#include "common/api/error_body.h"

namespace nw::http {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string find(const HeaderList& list, std::string_view name,
                 bool ignore_case) {
  for (const auto& [k, v] : list) {
    if (ignore_case ? iequals(k, name) : k == name) return v;
  }
  return {};
}

}  // namespace

std::string Request::param(std::string_view name) const {
  return find(params, name, false);
}

bool Request::has_param(std::string_view name) const {
  for (const auto& kv : params) {
    if (kv.first == name) return true;
  }
  return false;
}

std::string Request::header(std::string_view name) const {
  return find(headers, name, true);
}

std::string Response::header(std::string_view name) const {
  return find(headers, name, true);
}

Response Response::json(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::text(std::string body, std::string content_type,
                        int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::error(const Error& e) {
  return json(api::error_to_json(e), http_status(e.code));
}

}  // namespace nw::http
