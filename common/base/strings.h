#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nw {

// Appends v with JSON string escaping (quotes, backslash, control bytes);
// bytes >= 0x80 pass through unchanged.
void append_escaped(std::string& out, std::string_view v);
// Shortest text that round-trips the double; "NaN", "+Inf", "-Inf" as
// Prometheus spells them.
std::string format_double(double v);
std::string_view trim(std::string_view s);
// Splits on sep; empty pieces are kept unless skip_empty.
std::vector<std::string> split(std::string_view s, char sep,
                               bool skip_empty = false);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);

}  // namespace nw
