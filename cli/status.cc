#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "common/api/json.h"
#include "common/api/types.h"
#include "common/base/units.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

int run_status(Context& ctx) {
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->get("/v1/status");
  if (!resp.ok()) return report(resp.error());
  auto info = api::status_from_json(resp.value().body);
  if (!info.ok()) return report(info.error());
  const api::StatusInfo& s = info.value();
  if (ctx.output() == Output::json) {
    print_json(api::to_body(api::to_json(s), 2));
    return 0;
  }
  auto uptime = Duration(static_cast<long long>(s.uptime_seconds) * 1000);
  std::fputs(render_fields(
                 {
                     {"NODE", s.node_id},
                     {"ROLE", s.role},
                     {"CLUSTER",
                      s.cluster_id.empty() ? std::string("-") : s.cluster_id},
                     {"LEADER", s.leader.empty() ? std::string("-") : s.leader},
                     {"TERM", std::to_string(s.term)},
                     {"VERSION", s.version + " (" + s.commit + ")"},
                     {"API", s.api_addr},
                     {"PEER", s.peer_addr},
                     {"DATA DIR", s.data_dir},
                     {"STARTED", s.started_at},
                     {"UPTIME", format_duration(uptime)},
                     {"LOG LEVEL", s.log_level},
                     {"PID", std::to_string(s.pid)},
                 })
                 .c_str(),
             stdout);
  return 0;
}

}  // namespace

void add_status_commands(Cli& cli) {
  CLI::App* status = cli.app->add_subcommand(
      "status", "Show the agent's node id, role, version and uptime");
  cli.actions[status] = run_status;
}

}  // namespace nw::ctl
