#include <doctest/doctest.h>

#include <CLI/CLI.hpp>

#include "agent/options.h"
#include "cli/context.h"
#include "common/cli/command_tree.h"
#include "common/cli/completion.h"

namespace {

const nw::cli::CommandInfo* find(const std::vector<nw::cli::CommandInfo>& v,
                                 const std::string& path) {
  for (const auto& c : v) {
    if (c.path == path) return &c;
  }
  return nullptr;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_SUITE("cli.command_tree") {
  TEST_CASE("flatten.children_inherit_global_options") {
    auto cli = nw::ctl::build_cli();
    auto cmds = nw::cli::flatten(*cli->app, cli->hints);
    const auto* status = find(cmds, "status");
    REQUIRE(status != nullptr);
    CHECK(has(status->value_options, "--addr"));
    CHECK(has(status->value_options, "-o"));
    CHECK(status->option_choices.at("--output") ==
          std::vector<std::string>{"table", "json"});
    const auto* completion = find(cmds, "completion");
    REQUIRE(completion != nullptr);
    CHECK(completion->positional_choices ==
          std::vector<std::string>{"bash", "zsh", "fish"});
    const auto* version = find(cmds, "version");
    REQUIRE(version != nullptr);
    CHECK(has(version->flags, "--client"));
  }

  TEST_CASE("flatten.root_lists_every_noun") {
    auto cli = nw::ctl::build_cli();
    auto cmds = nw::cli::flatten(*cli->app, cli->hints);
    REQUIRE(!cmds.empty());
    CHECK(cmds.front().path.empty());
    CHECK(has(cmds.front().subcommands, "status"));
    CHECK(has(cmds.front().subcommands, "version"));
    CHECK(has(cmds.front().subcommands, "completion"));
  }
}

TEST_SUITE("cli.completion") {
  TEST_CASE("generate.scripts_name_commands_and_choices") {
    auto cli = nw::ctl::build_cli();
    for (auto shell :
         {nw::cli::Shell::bash, nw::cli::Shell::zsh, nw::cli::Shell::fish}) {
      std::string s =
          nw::cli::generate_completion(shell, "nwctl", *cli->app, cli->hints);
      CHECK(s.find("status") != std::string::npos);
      CHECK(s.find("table") != std::string::npos);
      CHECK(s.find("--timeout") != std::string::npos);
    }
    CHECK(nw::cli::generate_completion(nw::cli::Shell::bash, "nwctl", *cli->app,
                                       cli->hints)
              .find("complete -F _nwctl nwctl") != std::string::npos);
  }

  TEST_CASE("parse_shell.rejects_unknown") {
    CHECK(nw::cli::parse_shell("bash").has_value());
    CHECK_FALSE(nw::cli::parse_shell("powershell").has_value());
  }
}

TEST_SUITE("cli.context") {
  TEST_CASE("init.rejects_bad_globals_with_usage_code") {
    nw::ctl::Globals g;
    g.output = "yaml";
    nw::ctl::Context bad_output(g);
    nw::Status s = bad_output.init();
    REQUIRE_FALSE(s.ok());
    CHECK(nw::exit_code(s.error().code) == 2);
    CHECK(s.error().message.find("--output") != std::string::npos);

    nw::ctl::Globals g2;
    g2.output = "json";
    g2.timeout = "soon";
    nw::ctl::Context bad_timeout(g2);
    REQUIRE_FALSE(bad_timeout.init().ok());

    nw::ctl::Globals g3;
    g3.output = "json";
    g3.addr = "ftp://x";
    nw::ctl::Context bad_addr(g3);
    REQUIRE_FALSE(bad_addr.init().ok());

    nw::ctl::Globals g4;
    g4.output = "json";
    g4.addr = "http://127.0.0.1:7070, 127.0.0.1:7071";
    nw::ctl::Context good(g4);
    CHECK(good.init().ok());
    CHECK(good.output() == nw::ctl::Output::json);
  }

  TEST_CASE("table.render_aligns_columns") {
    nw::ctl::Table t({"NAME", "STATE"});
    t.add({"a-long-name", "ok"});
    t.add({"b", "failed"});
    CHECK(t.render() ==
          "NAME          STATE\n"
          "a-long-name   ok\n"
          "b             failed\n");
  }
}

TEST_SUITE("agent.options") {
  TEST_CASE("resolve.flags_override_dev_defaults") {
    auto cli = nw::agent::build_agent_cli();
    std::vector<std::string> args = {"--log-level", "debug", "--api",
                                     "127.0.0.1:9999", "--dev"};
    std::vector<const char*> argv = {"nwagent"};
    for (auto& a : args) argv.push_back(a.c_str());
    cli->app->parse(static_cast<int>(argv.size()),
                    const_cast<char**>(argv.data()));
    auto cfg = cli->resolve();
    REQUIRE(cfg.ok());
    CHECK(cfg->data_dir == "./.nightwatch");
    CHECK(cfg->api.listen.port == 9999);
    CHECK(cfg->log.level == nw::log::Level::debug);
  }

  TEST_CASE("resolve.bad_flag_value_names_the_flag") {
    auto cli = nw::agent::build_agent_cli();
    std::vector<const char*> argv = {"nwagent", "--dev", "--api-listen",
                                     "7070"};
    cli->app->parse(static_cast<int>(argv.size()),
                    const_cast<char**>(argv.data()));
    auto cfg = cli->resolve();
    REQUIRE_FALSE(cfg.ok());
    CHECK(cfg.error().message.find("--api-listen") != std::string::npos);
    CHECK(cfg.error().message.find("host:port") != std::string::npos);
  }
}
