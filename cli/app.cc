#include <CLI/CLI.hpp>

#include "cli/command_util.h"
#include "cli/context.h"

namespace nw::ctl {

std::unique_ptr<Cli> build_cli() {
  auto cli = std::make_unique<Cli>();
  cli->app = std::make_unique<CLI::App>(
      "nwctl drives Nightwatch agents: cluster status, topics, jobs, "
      "services, config and alerts.",
      "nwctl");
  CLI::App& app = *cli->app;
  Globals& g = cli->globals;
  // Global flags work before or after the command ("nwctl -o json status"
  // and "nwctl status -o json").
  app.fallthrough();
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, "
      "5 unavailable, 6 unauthenticated, 7 timed out, 10 unhealthy.\n"
      "See man nwctl for details.");
  app.add_option("--addr", g.addr,
                 "agent address(es), comma-separated, tried in turn "
                 "(host:port or http(s)://host:port)")
      ->envname("NW_ADDR")
      ->default_str(g.addr)
      ->type_name("ADDR");
  app.add_option("--token", g.token, "bearer token sent to the agent")
      ->envname("NW_TOKEN")
      ->type_name("TOKEN");
  app.add_option("--ca-cert", g.ca_cert,
                 "PEM file of the CA that signed the agents' certificates")
      ->envname("NW_CACERT")
      ->type_name("FILE");
  CLI::Option* out =
      app.add_option("-o,--output", g.output,
                     "output format: table (default on a terminal) or json "
                     "(default when piped)")
          ->envname("NW_OUTPUT")
          ->type_name("FORMAT");
  cli->hints.choices[out] = {"table", "json"};
  app.add_option("--timeout", g.timeout,
                 "how long to wait for an answer (e.g. 5s, 1m)")
      ->envname("NW_TIMEOUT")
      ->default_str(g.timeout)
      ->type_name("DURATION");

  add_status_commands(*cli);
  add_cluster_commands(*cli);
  add_topic_commands(*cli);
  add_produce_commands(*cli);
  add_consume_commands(*cli);
  add_group_commands(*cli);
  add_bench_commands(*cli);
  add_job_commands(*cli);
  add_lock_commands(*cli);
  add_version_commands(*cli);
  add_completion_commands(*cli);
  return cli;
}

}  // namespace nw::ctl
