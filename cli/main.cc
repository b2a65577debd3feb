// nwctl: parses the command line, runs the chosen command, and exits with
// the code of DESIGN.md's CLI contract.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/context.h"

namespace {

// The leaf command the user chose (the deepest parsed subcommand).
const CLI::App* chosen(const CLI::App& app) {
  const CLI::App* at = &app;
  while (true) {
    auto subs = at->get_subcommands();
    if (subs.empty()) return at;
    at = subs.front();
  }
}

// The first word that is neither a flag nor a known command, when CLI11
// stopped because it found no command ("nwctl stauts").
std::string unknown_command(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    if (w.empty() || w[0] == '-') {
      // Skip the value of a global option given as "--addr X".
      const CLI::Option* opt =
          app.get_option_no_throw(w.substr(0, w.find('=')));
      if (opt != nullptr && opt->get_expected_min() > 0 &&
          w.find('=') == std::string::npos) {
        ++i;
      }
      continue;
    }
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == w) return {};
    }
    return w;
  }
  return {};
}

int usage_error(const CLI::App& app, const CLI::ParseError& e) {
  std::cerr << "nwctl: " << e.what() << "\n";
  std::cerr << "usage: " << app.get_name()
            << " [global flags] <command> [args]; run 'nwctl --help' or "
               "'nwctl <command> --help'\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  auto cli = nw::ctl::build_cli();
  CLI::App& app = *cli->app;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    if (argc == 1) {  // bare "nwctl": show what it can do
      std::cerr << app.help();
      return 2;
    }
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (std::string w = unknown_command(app, argc, argv); !w.empty()) {
      std::cerr << "nwctl: unknown command \"" << w << "\" (commands: " << names
                << ")\n";
    } else if (app.get_subcommands().empty()) {
      std::cerr << "nwctl: a command is required (commands: " << names << ")\n";
    } else {
      return usage_error(app, e);
    }
    std::cerr << "usage: nwctl [global flags] <command> [args]; run "
                 "'nwctl --help'\n";
    return 2;
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e);
  }
  const CLI::App* leaf = chosen(app);
  auto it = cli->actions.find(leaf);
  if (it == cli->actions.end()) {
    // A noun without a verb: show the verbs.
    std::cerr << leaf->help();
    return 2;
  }
  nw::ctl::Context ctx(cli->globals);
  if (nw::Status s = ctx.init(); !s.ok()) return nw::ctl::report(s.error());
  return it->second(ctx);
}
