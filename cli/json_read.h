// Decoding agents' JSON answers: what the *_format.cc files share.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/result.h"

namespace nw::ctl {

// An answer that does not decode as documented (invalid_argument).
inline Error invalid_answer(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, "cli");
}

// Decodes the array `key` of j (absent or null: empty) into `out`, each
// element by f(element, "what: key[i]"). Elements must be objects, except
// for an array of strings (T = std::string), whose f checks them.
template <class T, class F>
Status read_array(const nlohmann::json& j, std::string_view key,
                  const std::string& what, std::vector<T>& out, F f) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ok_status();
  if (!it->is_array()) {
    return invalid_answer(what + ": field \"" + std::string(key) +
                          "\": expected an array, got " + it->type_name());
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& e = (*it)[i];
    std::string w =
        what + ": " + std::string(key) + "[" + std::to_string(i) + "]";
    if constexpr (!std::is_same_v<T, std::string>) {
      if (!e.is_object()) return invalid_answer(w + ": expected an object");
    }
    NW_ASSIGN_OR_RETURN(T v, f(e, w));
    out.push_back(std::move(v));
  }
  return ok_status();
}

}  // namespace nw::ctl
