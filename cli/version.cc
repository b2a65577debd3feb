#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/context.h"
#include "common/api/json.h"
#include "common/api/types.h"
#include "common/base/version.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

struct VersionFlags {
  bool client_only = false;
};

int run_version(Context& ctx, const VersionFlags& flags) {
  api::VersionInfo client{kVersion, kGitCommit};
  std::optional<api::VersionInfo> server;
  if (!flags.client_only) {
    auto c = ctx.client();
    if (!c.ok()) return report(c.error());
    auto resp = c.value()->get("/v1/status");
    if (resp.ok()) {
      auto info = api::status_from_json(resp.value().body);
      if (info.ok()) server = api::VersionInfo{info->version, info->commit};
    } else {
      // The client's own version is still worth printing; say why the
      // server's is missing.
      std::cerr << "nwctl: server version unknown: " << resp.error().message
                << "\n";
    }
  }
  if (ctx.output() == Output::json) {
    nlohmann::json j;
    j["client"] = api::to_json(client);
    j["server"] = server ? api::to_json(*server) : nlohmann::json(nullptr);
    print_json(api::to_body(j, 2));
    return 0;
  }
  std::string text = "client  " + client.version + " (" + client.commit + ")\n";
  if (server) {
    text += "server  " + server->version + " (" + server->commit + ")\n";
  } else if (!flags.client_only) {
    text += "server  unknown\n";
  }
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

void add_version_commands(Cli& cli) {
  auto flags = std::make_shared<VersionFlags>();
  CLI::App* version = cli.app->add_subcommand(
      "version",
      "Show the versions of nwctl and of the agent it talks to; exits 0 "
      "even when no agent answers");
  version->add_flag("--client", flags->client_only,
                    "only the client's version; do not contact an agent");
  cli.actions[version] = [flags](Context& ctx) {
    return run_version(ctx, *flags);
  };
}

}  // namespace nw::ctl
