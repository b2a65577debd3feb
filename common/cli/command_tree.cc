#include "common/cli/command_tree.h"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace nw::cli {
namespace {

void append_unique(std::vector<std::string>& to,
                   const std::vector<std::string>& from) {
  for (const std::string& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
  }
}

// Options of a parent are accepted after a subcommand (the apps fall
// through), so a command inherits its ancestors' options.
void walk(const CLI::App& app, const std::string& path,
          const CommandHints& hints, const CommandInfo* parent,
          std::vector<CommandInfo>& out) {
  CommandInfo info;
  info.path = path;
  info.description = app.get_description();
  std::vector<const CLI::App*> children =
      app.get_subcommands([](const CLI::App*) { return true; });
  for (const CLI::App* sub : children) {
    info.subcommands.push_back(sub->get_name());
  }
  for (const CLI::Option* opt :
       app.get_options([](const CLI::Option*) { return true; })) {
    auto it = hints.choices.find(opt);
    if (opt->get_positional()) {
      if (it != hints.choices.end() && info.positional_choices.empty()) {
        info.positional_choices = it->second;
      }
      continue;
    }
    bool takes_value = opt->get_expected_min() > 0;
    std::vector<std::string> names;
    for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
    for (const std::string& n : names) {
      (takes_value ? info.value_options : info.flags).push_back(n);
      if (it != hints.choices.end()) info.option_choices[n] = it->second;
    }
  }
  if (parent != nullptr) {
    append_unique(info.flags, parent->flags);
    append_unique(info.value_options, parent->value_options);
    info.option_choices.insert(parent->option_choices.begin(),
                               parent->option_choices.end());
  }
  out.push_back(std::move(info));
  // Copy: out grows while the children are walked.
  CommandInfo self = out.back();
  for (const CLI::App* sub : children) {
    walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(),
         hints, &self, out);
  }
}

}  // namespace

std::vector<CommandInfo> flatten(const CLI::App& root,
                                 const CommandHints& hints) {
  std::vector<CommandInfo> out;
  walk(root, "", hints, nullptr, out);
  return out;
}

}  // namespace nw::cli
