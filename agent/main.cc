// nwagent: parse flags, resolve the configuration, run the agent.
#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/agent.h"
#include "agent/options.h"
#include "common/base/log.h"
#include "common/base/version.h"
#include "common/cli/completion.h"

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask.
  nw::agent::block_signals();

  auto cli = nw::agent::build_agent_cli();
  try {
    cli->app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli->app->exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli->app->exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "nwagent: " << e.what() << "\n"
              << "usage: nwagent [--dev] [--config FILE] [flags]; run "
                 "'nwagent --help'\n";
    return 2;
  }
  if (cli->version) {
    std::cout << "nwagent " << nw::kVersion << " (" << nw::kGitCommit << ")\n";
    return 0;
  }
  if (!cli->completion.empty()) {
    std::cout << nw::cli::generate_completion(
        *nw::cli::parse_shell(cli->completion), "nwagent", *cli->app,
        cli->hints);
    return 0;
  }
  if (!cli->dev && cli->config_path.empty() &&
      cli->options.at("data_dir")->count() == 0) {
    std::cerr << "nwagent: no configuration: give --config FILE for a real "
                 "node, or --dev for a single-node development agent\n"
              << "hint: see man nwagent, or examples/agent.toml\n";
    return 2;
  }

  nw::Result<nw::config::AgentConfig> config = cli->resolve();
  if (!config.ok()) {
    std::cerr << "nwagent: " << config.error().message << "\n";
    if (!config.error().hint.empty()) {
      std::cerr << "hint: " << config.error().hint << "\n";
    }
    return nw::exit_code(config.error().code);
  }
  const nw::config::LogConfig& lc = config->log;
  if (nw::Status s = nw::log::configure(lc.level, lc.format, lc.file);
      !s.ok()) {
    std::cerr << "nwagent: " << s.error().message
              << "\nhint: " << s.error().hint << "\n";
    return nw::exit_code(s.error().code);
  }
  if (cli->recover) return nw::agent::recover(config.value());
  nw::agent::Agent agent(std::move(config).value(), *cli);
  return agent.run();
}
