#pragma once

#include <string>
#include <string_view>

#include "common/base/error.h"

// The API error body, the same for every endpoint and every error:
//
//   {"error": {"code": "not_found", "message": "...", "hint": "..."}}
//
// "code" is to_string(Code), "hint" is left out when empty. The HTTP status
// is http_status(code). docs/api.md documents it for users.
namespace nw::api {

// The error body for e (compact JSON). Never fails: bytes of the message
// that are not UTF-8 are replaced.
std::string error_to_json(const Error& e);

// The Error a non-2xx response stands for. When body is an error body, its
// code, message and hint (a code this build does not know falls back to
// the HTTP status); otherwise an Error with code_from_http_status(status)
// and message "HTTP <status>: <the first 200 bytes of the body>" (say, from
// a proxy in between). Never returns Code::ok: 2xx/3xx become internal.
Error error_from_body(int http_status, std::string_view body);

}  // namespace nw::api
