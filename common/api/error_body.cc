#include "common/api/error_body.h"

#include <nlohmann/json.hpp>

#include "common/api/json.h"
#include "common/base/strings.h"

namespace nw::api {
namespace {

constexpr std::string_view kDomain = "api";
constexpr size_t kSnippetBytes = 200;

Code code_for_status(int status) {
  Code c = code_from_http_status(status);
  return c == Code::ok ? Code::internal : c;
}

// The first bytes of a body for a message: at most kSnippetBytes, not
// ending inside a UTF-8 sequence, surrounding white space dropped.
std::string snippet(std::string_view body) {
  if (body.size() > kSnippetBytes) {
    size_t n = kSnippetBytes;
    // Back off over continuation bytes (10xxxxxx) to a character start.
    while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
    body = body.substr(0, n);
  }
  return std::string(trim(body));
}

}  // namespace

std::string error_to_json(const Error& e) {
  nlohmann::json inner = {{"code", std::string(to_string(e.code))},
                          {"message", e.message}};
  if (!e.hint.empty()) inner["hint"] = e.hint;
  return to_body(nlohmann::json{{"error", std::move(inner)}});
}

Error error_from_body(int http_status, std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    auto it = j.find("error");
    if (it != j.end() && it->is_object()) {
      const nlohmann::json& e = *it;
      auto code = e.find("code");
      auto message = e.find("message");
      if (code != e.end() && code->is_string() && message != e.end() &&
          message->is_string()) {
        Error out(code_from_string(code->get<std::string>())
                      .value_or(code_for_status(http_status)),
                  message->get<std::string>(), {}, kDomain);
        if (out.code == Code::ok) out.code = code_for_status(http_status);
        auto hint = e.find("hint");
        if (hint != e.end() && hint->is_string()) {
          out.hint = hint->get<std::string>();
        }
        return out;
      }
    }
  }
  std::string message = "HTTP " + std::to_string(http_status);
  std::string text = snippet(body);
  if (!text.empty()) message += ": " + text;
  return Error(code_for_status(http_status), std::move(message), {}, kDomain);
}

}  // namespace nw::api
