#pragma once

#include <map>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace nw::cli {

// Facts about a CLI11 command tree that CLI11 cannot tell back: the fixed
// choices an option or positional accepts (for completions and docs).
// Filled while the tree is built; read by the completion generator.
struct CommandHints {
  std::map<const CLI::Option*, std::vector<std::string>> choices;
};

// One command of the tree, flattened: its path from the root ("" for the
// root, "topic create" for a nested one) and what it accepts.
struct CommandInfo {
  std::string path;
  std::string description;
  std::vector<std::string> subcommands;    // names of direct children
  std::vector<std::string> flags;          // "--dev", "-o", ... (no value)
  std::vector<std::string> value_options;  // options that take a value
  std::map<std::string, std::vector<std::string>> option_choices;
  std::vector<std::string> positional_choices;  // for the first positional
};

// Walks the tree depth-first, root first. Help options are included.
std::vector<CommandInfo> flatten(const CLI::App& root,
                                 const CommandHints& hints);

}  // namespace nw::cli
