#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "common/cli/completion.h"

namespace nw::ctl {

void add_completion_commands(Cli& cli) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = cli.app->add_subcommand(
      "completion",
      "Print the shell completion script (bash, zsh or fish); e.g. "
      "source <(nwctl completion bash)");
  CLI::Option* arg = cmd->add_option("shell", *shell, "bash, zsh or fish")
                         ->required()
                         ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cli.hints.choices[arg] = {"bash", "zsh", "fish"};
  // Generated from the same tree that parses the command line, so the
  // scripts cannot drift from the commands.
  cli.actions[cmd] = [shell, &cli](Context&) {
    std::string script = cli::generate_completion(*cli::parse_shell(*shell),
                                                  "nwctl", *cli.app, cli.hints);
    std::fputs(script.c_str(), stdout);
    return 0;
  };
}

}  // namespace nw::ctl
