#include "common/base/error.h"

#include <array>

namespace nw {
namespace {

struct CodeInfo {
  Code code;
  std::string_view name;
  int http;
  int exit;
};

constexpr std::array<CodeInfo, 14> kCodes{{
    {Code::ok, "ok", 200, 0},
    {Code::invalid_argument, "invalid_argument", 400, 2},
    {Code::not_found, "not_found", 404, 3},
    {Code::conflict, "conflict", 409, 4},
    {Code::failed_precondition, "failed_precondition", 412, 4},
    {Code::unavailable, "unavailable", 503, 5},
    {Code::unauthenticated, "unauthenticated", 401, 6},
    {Code::permission_denied, "permission_denied", 403, 6},
    {Code::timeout, "timeout", 504, 7},
    {Code::unhealthy, "unhealthy", 503, 10},
    {Code::cancelled, "cancelled", 499, 1},
    {Code::io_error, "io_error", 500, 1},
    {Code::corruption, "corruption", 500, 1},
    {Code::internal, "internal", 500, 1},
}};

const CodeInfo& info(Code code) {
  for (const auto& i : kCodes) {
    if (i.code == code) return i;
  }
  return kCodes.back();
}

}  // namespace

std::string_view to_string(Code code) { return info(code).name; }

std::optional<Code> code_from_string(std::string_view name) {
  for (const auto& i : kCodes) {
    if (i.name == name) return i.code;
  }
  return std::nullopt;
}

int http_status(Code code) { return info(code).http; }

Code code_from_http_status(int status) {
  switch (status) {
    case 400:
    case 422:
      return Code::invalid_argument;
    case 401:
      return Code::unauthenticated;
    case 403:
      return Code::permission_denied;
    case 404:
      return Code::not_found;
    case 409:
      return Code::conflict;
    case 412:
      return Code::failed_precondition;
    case 408:
    case 504:
      return Code::timeout;
    case 502:
    case 503:
      return Code::unavailable;
    default:
      return status >= 200 && status < 300 ? Code::ok : Code::internal;
  }
}

int exit_code(Code code) { return info(code).exit; }

std::string Error::to_string() const {
  if (hint.empty()) return message;
  return message + " (" + hint + ")";
}

Error Error::wrap(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

}  // namespace nw
