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
    return usage_error(app, e);
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
