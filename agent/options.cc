#include "agent/options.h"

#include <CLI/CLI.hpp>

#include "common/base/strings.h"

namespace nw::agent {

AgentCli::~AgentCli() = default;

std::unique_ptr<AgentCli> build_agent_cli() {
  auto cli = std::make_unique<AgentCli>();
  cli->app = std::make_unique<CLI::App>(
      "nwagent is the Nightwatch daemon: one per node. It serves the HTTP "
      "API that nwctl talks to.",
      "nwagent");
  CLI::App& app = *cli->app;
  app.add_flag("--dev", cli->dev,
               "development mode: no config needed; data in ./.nightwatch, "
               "API on 127.0.0.1:7070, one node");
  app.add_option("-c,--config", cli->config_path,
                 "TOML config file (see man nightwatch.toml); re-read on "
                 "SIGHUP")
      ->type_name("FILE");
  app.add_flag("--version", cli->version, "print the version and exit");
  app.add_flag("--recover", cli->recover,
               "quorum-loss recovery: make this (stopped) agent the only "
               "voter of its cluster, keeping the cluster state, then exit; "
               "see docs/runbooks/quorum-loss.md");
  CLI::Option* comp =
      app.add_option("--completion", cli->completion,
                     "print the shell completion script for nwagent and exit")
          ->type_name("SHELL")
          ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cli->hints.choices[comp] = {"bash", "zsh", "fish"};

  for (const config::KeyInfo& k : config::keys()) {
    std::string names = "--" + k.flag;
    for (const std::string& a : k.aliases) names += ",--" + a;
    std::string help = k.description;
    help += " [config: " + k.key +
            "; default: " + (k.default_text.empty() ? "none" : k.default_text) +
            "]";
    CLI::Option* opt = app.add_option(names, cli->values[k.key], help);
    std::string type = k.type;
    if (type.find('|') != std::string::npos) {
      cli->hints.choices[opt] = split(type, '|');
    }
    for (char& c : type) c = static_cast<char>(std::toupper(c));
    opt->type_name(type);
    opt->group("Configuration (each flag overrides the config file key)");
    cli->options[k.key] = opt;
  }
  app.footer(
      "Signals: SIGTERM/SIGINT shut down gracefully (a second one forces "
      "exit); SIGHUP re-reads --config and re-opens the log file.\n"
      "See man nwagent and man nightwatch.toml.");
  return cli;
}

Result<config::AgentConfig> AgentCli::resolve() const {
  // Not a ?: of two temporaries: GCC 12 at -O3 then warns (falsely) that
  // a moved-from string may be used uninitialized.
  config::AgentConfig cfg;
  if (dev) cfg = config::dev_defaults();
  if (!config_path.empty()) {
    NW_ASSIGN_OR_RETURN(cfg, config::load_file(config_path, cfg));
  }
  for (const auto& [key, opt] : options) {
    if (opt->count() == 0) continue;
    NW_RETURN_IF_ERROR(config::set_key(cfg, key, values.at(key)));
  }
  NW_RETURN_IF_ERROR(config::validate(cfg));
  return cfg;
}

}  // namespace nw::agent
