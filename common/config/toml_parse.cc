// The toml++ adapter: the only file of the project that includes toml++.
// toml++ reports syntax errors by throwing toml::parse_error; it is caught
// here and turned into an Error, so no exception leaves this module.

#include <fcntl.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include "common/config/toml_util.h"

#include "common/base/strings.h"
#include "common/config/config.h"
#include "common/config/key_table.h"

namespace nw::config {
namespace {

using detail::KeyOps;
using detail::quoted;
using detail::TomlKind;

// One problem found in the file; the one on the earliest line is reported,
// since toml++ tables iterate in key order, not in file order.
struct Problem {
  std::uint32_t line = 0;
  std::string message;  // "key: detail"
};

bool kind_matches(TomlKind kind, const toml::node& node) {
  switch (kind) {
    case TomlKind::string:
      return node.is_string();
    case TomlKind::integer:
      return node.is_integer();
    case TomlKind::string_or_int:
      return node.is_string() || node.is_integer();
    case TomlKind::string_list:
      if (node.is_string()) return true;
      if (!node.is_array()) return false;
      for (const toml::node& item : *node.as_array()) {
        if (!item.is_string()) return false;
      }
      return true;
  }
  return false;
}

std::string unknown_message(const std::string& name, bool is_table,
                            bool top_level) {
  std::vector<std::string> candidates;
  std::string what = is_table ? "table" : "key";
  std::string listed;
  if (is_table) {
    candidates = detail::table_names();
    listed = "known tables: " + join(candidates, ", ");
  } else {
    // A key put in the wrong table: "listen" or "log.listen".
    std::string_view leaf = std::string_view(name).substr(name.rfind('.') + 1);
    for (const KeyInfo& k : keys()) {
      candidates.push_back(k.key);
      if (std::string_view(k.key).substr(k.key.rfind('.') + 1) == leaf) {
        return name + ": unknown key; did you mean " + k.key + "?";
      }
    }
    listed = "known keys: " + join(candidates, ", ");
    // "apii = ..." at the top is most likely a misspelt table.
    if (top_level) {
      for (const std::string& t : detail::table_names()) {
        candidates.push_back(t);
      }
    }
  }
  std::string near = detail::closest(name, candidates);
  if (!near.empty()) {
    return name + ": unknown " + what + "; did you mean " + near + "?";
  }
  return name + ": unknown " + what + " (" + listed + ")";
}

std::uint32_t line_of(const toml::source_region& key_source,
                      const toml::node& node) {
  if (key_source.begin.line != 0) return key_source.begin.line;
  return node.source().begin.line;
}

// Applies one `name = node` entry to cfg, or records why it cannot.
void apply(AgentConfig& cfg, const std::string& name, bool top_level,
           const toml::source_region& key_source, const toml::node& node,
           std::vector<Problem>& problems) {
  const KeyOps* op = detail::find_ops(name);
  if (op == nullptr) {
    problems.push_back({line_of(key_source, node),
                        unknown_message(name, node.is_table(), top_level)});
    return;
  }
  std::uint32_t line = node.source().begin.line;
  if (line == 0) line = line_of(key_source, node);
  if (!kind_matches(op->kind, node)) {
    problems.push_back({line, name + ": expected " + op->info.type + ", got " +
                                  describe_toml(node)});
    return;
  }
  std::string text;
  if (node.is_array()) {
    std::vector<std::string> items;
    for (const toml::node& item : *node.as_array()) {
      items.emplace_back(item.as_string()->get());
    }
    text = join(items, ",");
  } else if (node.is_string()) {
    text = std::string(node.as_string()->get());
  } else {
    text = std::to_string(node.as_integer()->get());
  }
  Status s = op->set(cfg, text);
  if (s.ok() && op->check != nullptr) s = op->check(cfg);
  if (!s.ok()) problems.push_back({line, name + ": " + s.error().message});
}

Result<toml::table> parse_document(std::string_view text,
                                   std::string_view source_name) {
  try {
    return toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return Error(Code::invalid_argument,
                 std::string(source_name) + ":" + std::to_string(at.line) +
                     ":" + std::to_string(at.column) +
                     ": TOML syntax error: " + std::string(e.description()),
                 std::string(detail::kDocsHint), "config");
  } catch (const std::exception& e) {
    return Error(Code::invalid_argument,
                 std::string(source_name) + ": TOML error: " + e.what(),
                 std::string(detail::kDocsHint), "config");
  }
}

}  // namespace

std::string describe_toml(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "string " + quoted(node.as_string()->get());
    case toml::node_type::integer:
      return "integer " + std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point:
      return "float " + format_double(node.as_floating_point()->get());
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "boolean true" : "boolean false";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Result<AgentConfig> parse_toml(std::string_view text,
                               std::string_view source_name, AgentConfig base) {
  NW_ASSIGN_OR_RETURN(toml::table doc, parse_document(text, source_name));
  AgentConfig cfg = std::move(base);
  std::vector<Problem> problems;
  const auto& tables = detail::table_names();
  for (const auto& [key, node] : doc) {
    std::string name(key.str());
    bool is_table_name =
        std::find(tables.begin(), tables.end(), name) != tables.end();
    if (!is_table_name) {
      apply(cfg, name, /*top_level=*/true, key.source(), node, problems);
      continue;
    }
    if (!node.is_table()) {
      problems.push_back(
          {line_of(key.source(), node),
           name + ": expected table, got " + describe_toml(node)});
      continue;
    }
    for (const auto& [inner_key, inner] : *node.as_table()) {
      apply(cfg, name + "." + std::string(inner_key.str()),
            /*top_level=*/false, inner_key.source(), inner, problems);
    }
  }
  if (!problems.empty()) {
    const Problem& first = *std::min_element(
        problems.begin(), problems.end(),
        [](const Problem& a, const Problem& b) { return a.line < b.line; });
    return Error(Code::invalid_argument,
                 std::string(source_name) + ":" + std::to_string(first.line) +
                     ": " + first.message,
                 std::string(detail::kDocsHint), "config");
  }
  return cfg;
}

Result<AgentConfig> load_file(const std::string& path, AgentConfig base) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return Error(Code::not_found, "read config " + path + ": no such file",
                   "check the path given to --config", "config");
    }
    return Error(
        Code::io_error, "read config " + path + ": " + std::strerror(err),
        "check that the file is readable by the agent's user", "config");
  }
  std::string text;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Error(Code::io_error,
                   "read config " + path + ": " + std::strerror(err),
                   err == EISDIR ? "give --config the path of a file"
                                 : "check that the file is readable",
                   "config");
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return parse_toml(text, path, std::move(base));
}

}  // namespace nw::config
