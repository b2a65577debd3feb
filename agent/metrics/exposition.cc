#include "agent/metrics/exposition.h"

#include "common/base/assert.h"

namespace nw::metrics {
namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void append_label(std::string& out, bool& first, std::string_view name,
                  std::string_view value) {
  out += first ? '{' : ',';
  first = false;
  out += name;
  out += "=\"";
  append_label_value(out, value);
  out += '"';
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = is_name_start(c) || c == ':' || (i > 0 && is_digit(c));
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(is_name_start(c) || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

// Prometheus text format escaping: backslash and newline always, the
// double quote only inside label values (HELP text is not quoted).
void append_prom_escaped(std::string& out, std::string_view text,
                         bool escape_quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_label_value(std::string& out, std::string_view value) {
  append_prom_escaped(out, value, true);
}

void append_help_text(std::string& out, std::string_view help) {
  append_prom_escaped(out, help, false);
}

void append_header(std::string& out, std::string_view name,
                   std::string_view help, MetricType type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_help_text(out, help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += to_string(type);
  out += '\n';
}

void append_sample(std::string& out, std::string_view name,
                   std::span<const std::string> names,
                   std::span<const std::string> values, std::string_view value,
                   const ExtraLabel* extra) {
  NW_ASSERT(names.size() == values.size(), "label names and values differ");
  out += name;
  bool first = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    append_label(out, first, names[i], values[i]);
  }
  if (extra != nullptr) append_label(out, first, extra->name, extra->value);
  if (!first) out += '}';
  out += ' ';
  out += value;
  out += '\n';
}

void append_sample(
    std::string& out, std::string_view name,
    const std::vector<std::pair<std::string, std::string>>& labels,
    std::string_view value) {
  out += name;
  bool first = true;
  for (const auto& [k, v] : labels) append_label(out, first, k, v);
  if (!first) out += '}';
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace nw::metrics
