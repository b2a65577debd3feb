#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nw {

// The kind of an error, shared by every module and by the wire: the API
// error body carries `to_string(code)` and the HTTP status from
// `http_status(code)`, and nwctl exits with `exit_code(code)`. Modules keep
// their own detail in the message and their name in `Error::domain`.
enum class Code : std::uint8_t {
  ok,
  invalid_argument,     // the request or input is malformed
  not_found,            // the named thing does not exist
  conflict,             // it exists already, or a concurrent change won
  failed_precondition,  // the system is not in a state that allows this
  unavailable,          // nothing answered, no leader, shutting down
  unauthenticated,      // no or bad credentials
  permission_denied,    // credentials fine, not allowed
  timeout,              // a deadline passed before the work finished
  unhealthy,            // checked, and the checked thing is unhealthy
  cancelled,            // stopped on request
  io_error,             // the file system or a socket failed
  corruption,           // stored data failed a check
  internal,             // a bug
};

// "not_found" etc.; the stable spelling used in JSON bodies.
std::string_view to_string(Code code);
// Inverse of to_string; nullopt for an unknown spelling.
std::optional<Code> code_from_string(std::string_view name);
// The HTTP status an API response with this code carries.
int http_status(Code code);
// The code a client assumes for an HTTP status without a decodable body.
Code code_from_http_status(int status);
// nwctl's exit code for this kind of error (DESIGN.md, CLI contract):
// 0 ok, 1 error, 2 usage, 3 not found, 4 conflict or precondition failed,
// 5 unavailable, 6 unauthenticated or forbidden, 7 timed out, 10 unhealthy.
int exit_code(Code code);

// What went wrong, in the form "what failed: detail", and, when the user can
// do something about it, a hint saying what to do next.
struct Error {
  Code code = Code::internal;
  std::string message;
  std::string hint;
  // The module that raised it ("config", "http", "state", ...); for logs.
  std::string_view domain;

  Error() = default;
  Error(Code c, std::string msg, std::string hnt = {},
        std::string_view dom = {})
      : code(c), message(std::move(msg)), hint(std::move(hnt)), domain(dom) {}

  // "message (hint)" on one line, for logs and single-line reports.
  std::string to_string() const;
  // A copy with "context: " put before the message.
  Error wrap(std::string_view context) const;
};

}  // namespace nw
