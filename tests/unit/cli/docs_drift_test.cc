// The files kept in the repo that describe the command lines (man pages,
// completion scripts) are checked against the CLI11 trees that parse them,
// so a new command or flag without docs fails here.
#include <doctest/doctest.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

#include "agent/options.h"
#include "cli/context.h"
#include "common/cli/completion.h"

namespace {

std::string read_file(const std::string& rel) {
  std::ifstream in(std::string(NW_SOURCE_DIR) + "/" + rel);
  REQUIRE_MESSAGE(in.good(), "cannot read " << rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// roff writes a literal dash as "\-"; undo that to search for flags.
std::string unroff(std::string s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '-') continue;
    if (s[i] == '\\' && i + 2 < s.size() && s[i + 1] == 'f') {
      i += 2;  // font change: \fB \fI \fR \fP
      continue;
    }
    out += s[i];
  }
  return out;
}

void check_completion_file(const std::string& program, nw::cli::Shell shell,
                           const std::string& ext, const CLI::App& app,
                           const nw::cli::CommandHints& hints) {
  std::string want = nw::cli::generate_completion(shell, program, app, hints);
  std::string have = read_file("completions/" + program + "." + ext);
  CHECK_MESSAGE(have == want, "completions/" << program << "." << ext
                                             << " is stale: run make generate");
}

}  // namespace

TEST_SUITE("docs.drift") {
  TEST_CASE("nwctl_man_page.names_every_command_and_flag") {
    auto cli = nw::ctl::build_cli();
    std::string man = unroff(read_file("man/nwctl.1"));
    for (const nw::cli::CommandInfo& c :
         nw::cli::flatten(*cli->app, cli->hints)) {
      if (!c.path.empty()) {
        CHECK_MESSAGE(man.find("nwctl " + c.path) != std::string::npos,
                      "man/nwctl.1 does not document 'nwctl " << c.path << "'");
      }
      for (const auto& list : {c.flags, c.value_options}) {
        for (const std::string& f : list) {
          if (f.rfind("--", 0) != 0) continue;
          CHECK_MESSAGE(man.find(f) != std::string::npos,
                        "man/nwctl.1 does not document " << f << " (of '"
                                                         << c.path << "')");
        }
      }
    }
    for (const char* env :
         {"NW_ADDR", "NW_TOKEN", "NW_CACERT", "NW_OUTPUT", "NW_TIMEOUT"}) {
      CHECK_MESSAGE(man.find(env) != std::string::npos, "missing " << env);
    }
  }

  TEST_CASE("nwagent_man_page.names_every_flag") {
    auto cli = nw::agent::build_agent_cli();
    std::string man = unroff(read_file("man/nwagent.8"));
    for (const nw::cli::CommandInfo& c :
         nw::cli::flatten(*cli->app, cli->hints)) {
      for (const auto& list : {c.flags, c.value_options}) {
        for (const std::string& f : list) {
          if (f.rfind("--", 0) != 0) continue;
          CHECK_MESSAGE(man.find(f) != std::string::npos,
                        "man/nwagent.8 does not document " << f);
        }
      }
    }
  }

  TEST_CASE("completions.nwctl_files_match_the_command_tree") {
    auto cli = nw::ctl::build_cli();
    check_completion_file("nwctl", nw::cli::Shell::bash, "bash", *cli->app,
                          cli->hints);
    check_completion_file("nwctl", nw::cli::Shell::zsh, "zsh", *cli->app,
                          cli->hints);
    check_completion_file("nwctl", nw::cli::Shell::fish, "fish", *cli->app,
                          cli->hints);
  }

  TEST_CASE("completions.nwagent_files_match_the_flags") {
    auto cli = nw::agent::build_agent_cli();
    check_completion_file("nwagent", nw::cli::Shell::bash, "bash", *cli->app,
                          cli->hints);
    check_completion_file("nwagent", nw::cli::Shell::zsh, "zsh", *cli->app,
                          cli->hints);
    check_completion_file("nwagent", nw::cli::Shell::fish, "fish", *cli->app,
                          cli->hints);
  }
}
