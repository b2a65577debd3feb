#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "common/cli/command_tree.h"
#include "common/config/config.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace nw::agent {

// nwagent's command line. Every configuration key has a flag of the same
// name (config::keys(): `api.listen` -> `--api-listen`, alias `--api`), so
// the flags are generated from the key table and cannot drift from it.
// Precedence, lowest first: built-in defaults (or --dev's), the --config
// file, flags.
struct AgentCli {
  std::unique_ptr<CLI::App> app;
  cli::CommandHints hints;
  bool dev = false;
  bool version = false;
  // --recover: rewrite the data directory so that this agent is the only
  // voter of its cluster (quorum loss), then exit.
  bool recover = false;
  std::string config_path;
  std::string completion;
  // Raw flag text by config key; CLI11 writes into these (std::map: stable
  // addresses). Only the ones given on the command line are applied.
  std::map<std::string, std::string> values;
  std::map<std::string, CLI::Option*> options;

  ~AgentCli();
  // The configuration from --dev/defaults, the --config file and the flags,
  // validated. Called at start and again on SIGHUP (the file may have
  // changed; the flags have not). Errors: those of config::load_file,
  // set_key and validate.
  Result<config::AgentConfig> resolve() const;
};

std::unique_ptr<AgentCli> build_agent_cli();

}  // namespace nw::agent
