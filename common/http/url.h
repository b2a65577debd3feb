#pragma once

#include <string>
#include <string_view>

namespace nw::http {

// Percent-encodes every byte except RFC 3986's unreserved characters
// (A-Z a-z 0-9 - . _ ~), for one path segment or one query value:
//   "/v1/topics/" + percent_encode(name) + "?group=" + percent_encode(g)
// The client sends paths as given (it does not encode them again).
std::string percent_encode(std::string_view s);

}  // namespace nw::http
