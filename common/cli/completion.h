#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/cli/command_tree.h"

namespace nw::cli {

enum class Shell { bash, zsh, fish };

std::optional<Shell> parse_shell(std::string_view name);

// A completion script for `program` generated from its CLI11 tree, so the
// completions cannot drift from the commands. The scripts are static data
// (one case per command path) plus a small walker that finds the command
// path in the words typed so far, skipping options and their values.
std::string generate_completion(Shell shell, std::string_view program,
                                const CLI::App& root,
                                const CommandHints& hints);

}  // namespace nw::cli
