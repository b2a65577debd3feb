#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/result.h"

// Helpers every codec in common/api uses, so that all API types decode the
// same way and fail with the same kind of message:
//   invalid_argument "status: field \"pid\": expected an integer, got string"
namespace nw::api {

// Serializes j compactly, or indented by `indent` spaces (nwctl's -o json
// output of one object). Never throws: bytes that are not valid UTF-8 are
// replaced with U+FFFD (nlohmann's dump() would throw on them).
std::string to_body(const nlohmann::json& j, int indent = -1);

// Parses body as a JSON object. `what` names the thing for messages
// ("status"). invalid_argument "status: not valid JSON: ..." or
// "status: expected a JSON object, got array".
Result<nlohmann::json> parse_object(std::string_view body,
                                    std::string_view what);

// Reads the fields of one decoded JSON object into a struct, remembering the
// first problem. Unknown fields are ignored: the API only ever adds fields,
// so an older client must accept a newer agent's bodies. A field added after
// a type was first released is read with optional(), so a newer client also
// accepts an older agent's bodies.
//
//   ObjectReader r(j, "status");
//   r.required("node_id", s.node_id);
//   r.optional("labels", s.labels);
//   NW_RETURN_IF_ERROR(r.status());
//
// Lifecycle: one per decode, on one thread; `j` must outlive it.
class ObjectReader {
 public:
  // REQUIRES: j is an object (parse_object() checks that).
  ObjectReader(const nlohmann::json& j, std::string what);

  // A missing or null field is an error ("missing field \"x\"").
  void required(std::string_view key, std::string& out);
  void required(std::string_view key, bool& out);
  void required(std::string_view key, std::int64_t& out);
  void required(std::string_view key, std::uint64_t& out);
  void required(std::string_view key, double& out);
  void required(std::string_view key, std::vector<std::string>& out);

  // A missing or null field leaves out unchanged; a field of the wrong type
  // is still an error.
  void optional(std::string_view key, std::string& out);
  void optional(std::string_view key, bool& out);
  void optional(std::string_view key, std::int64_t& out);
  void optional(std::string_view key, std::uint64_t& out);
  void optional(std::string_view key, double& out);
  void optional(std::string_view key, std::vector<std::string>& out);

  // The first problem found, or ok.
  Status status() const;

 private:
  // The field's value, or nullptr when it is absent or null (then, if
  // required, the error is recorded).
  const nlohmann::json* find(std::string_view key, bool required);
  void type_error(std::string_view key, std::string_view expected,
                  const nlohmann::json& got);
  template <class T>
  void read(std::string_view key, T& out, bool required);

  const nlohmann::json& j_;
  std::string what_;
  Status status_;
};

}  // namespace nw::api
