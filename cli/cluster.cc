// `nwctl cluster status|join|remove|transfer-leader|label`: the commands
// over /v1/cluster/* (docs/api.md, "Cluster"). Checking arguments and
// formatting answers live in cluster_format.cc (cluster.h); this file wires
// them to the CLI11 tree and the HTTP client.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/cluster.h"
#include "cli/context.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

struct StatusFlags {
  bool stale = false;
};
struct JoinFlags {
  std::vector<std::string> addrs;
};
struct RemoveFlags {
  std::string node_id;
  bool force = false;
};
struct TransferFlags {
  std::string node_id;
};
struct LabelFlags {
  std::string node_id;
  std::vector<std::string> pairs;
  std::vector<std::string> remove;
};

// Prints a successful answer: the body unchanged (re-indented) for -o json,
// else what `text` makes of it.
template <class Render>
int print_answer(Context& ctx, const std::string& body, std::string_view what,
                 Render text) {
  if (ctx.output() == Output::json) {
    auto pretty = pretty_json(body, what);
    if (!pretty.ok()) return report(pretty.error());
    print_json(pretty.value());
    return 0;
  }
  Result<std::string> out = text(body);
  if (!out.ok()) return report(out.error());
  std::fputs(out.value().c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

int run_status(Context& ctx, const StatusFlags& flags) {
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->get(flags.stale ? "/v1/cluster/status?stale=true"
                                              : "/v1/cluster/status");
  if (!resp.ok()) {
    Error e = resp.error();
    // The agent answered but knows no leader (the client's own unavailable
    // errors, "no agent at ...", keep their hint about --addr).
    if (e.code == Code::unavailable && e.domain != "http" && !flags.stale) {
      std::string hint =
          "see what this agent knows without a leader: nwctl cluster status "
          "--stale";
      e.hint = e.hint.empty() ? hint : e.hint + "; or " + hint;
    }
    return report(e);
  }
  const std::string& body = resp.value().body;
  // Decode even for -o json, so a body that breaks the contract fails here
  // rather than in the user's script.
  auto status = cluster_status_from_json(body);
  if (!status.ok()) return report(status.error());
  return print_answer(ctx, body, "cluster status", [&](const std::string&) {
    return Result<std::string>(render_cluster_status(status.value()));
  });
}

int run_join(Context& ctx, const JoinFlags& flags) {
  auto addrs = parse_join_addrs(flags.addrs);
  if (!addrs.ok()) return report(addrs.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post("/v1/cluster/join",
                                   join_request_json(addrs.value()));
  if (!resp.ok()) return report(resp.error());
  return print_answer(ctx, resp.value().body, "join", render_join);
}

int run_remove(Context& ctx, const RemoveFlags& flags) {
  if (Status s = check_node_id("remove", flags.node_id); !s.ok()) {
    return report(s.error());
  }
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post(
      "/v1/cluster/remove", remove_request_json(flags.node_id, flags.force));
  if (!resp.ok()) return report(resp.error());
  return print_answer(ctx, resp.value().body, "remove", render_remove);
}

int run_transfer(Context& ctx, const TransferFlags& flags) {
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post("/v1/cluster/transfer-leader",
                                   transfer_request_json(flags.node_id));
  if (!resp.ok()) return report(resp.error());
  return print_answer(ctx, resp.value().body, "transfer-leader",
                      render_transfer);
}

int run_label(Context& ctx, const LabelFlags& flags) {
  if (Status s = check_node_id("label", flags.node_id); !s.ok()) {
    return report(s.error());
  }
  auto change = parse_label_args(flags.pairs, flags.remove);
  if (!change.ok()) return report(change.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->put(label_path(flags.node_id),
                                  label_request_json(change.value()));
  if (!resp.ok()) return report(resp.error());
  return print_answer(ctx, resp.value().body, "cluster member",
                      [](const std::string& body) -> Result<std::string> {
                        NW_ASSIGN_OR_RETURN(ClusterMember m,
                                            cluster_member_from_json(body));
                        return render_cluster_member(m);
                      });
}

// A command's help footer: its examples, then the exit codes the root's
// help lists (a subcommand with its own footer would drop them).
std::string with_exit_codes(const Cli& cli, const std::string& examples) {
  return examples + "\n\n" + cli.app->get_footer();
}

}  // namespace

void add_cluster_commands(Cli& cli) {
  CLI::App* cluster = cli.app->add_subcommand(
      "cluster", "Show and change the cluster's members and leader");
  cluster->footer(
      with_exit_codes(cli,
                      "Example:\n  nwctl cluster status\n\nRun 'nwctl cluster "
                      "<command> --help' for a command."));

  auto status_flags = std::make_shared<StatusFlags>();
  CLI::App* status = cluster->add_subcommand(
      "status",
      "Show the cluster id, leader, term and indexes, and each member's "
      "addresses, role, state and replication lag; exits 5 with no leader");
  status->add_flag("--stale", status_flags->stale,
                   "answer from the contacted agent's own state, even "
                   "without a leader (may be out of date)");
  status->footer(
      with_exit_codes(cli,
                      "Examples:\n"
                      "  nwctl cluster status\n"
                      "  nwctl --addr 10.0.0.6:7070 cluster status --stale\n"
                      "  nwctl -o json cluster status | jq -r .leader"));
  cli.actions[status] = [status_flags](Context& ctx) {
    return run_status(ctx, *status_flags);
  };

  auto join_flags = std::make_shared<JoinFlags>();
  CLI::App* join = cluster->add_subcommand(
      "join",
      "Make the agent at --addr join the cluster reachable at the given PEER "
      "addresses; waits until it is a member");
  join->add_option("addrs", join_flags->addrs,
                   "PEER addresses (host:port) of cluster members; several "
                   "arguments or a comma-separated list")
      // Not required() here: parse_join_addrs says what to write instead.
      ->type_name("ADDR[,ADDR...]");
  join->footer(with_exit_codes(
      cli,
      "Example:\n"
      "  nwctl --addr 10.0.0.7:7070 cluster join 10.0.0.5:7071,10.0.0.6:7071"));
  cli.actions[join] = [join_flags](Context& ctx) {
    return run_join(ctx, *join_flags);
  };

  auto remove_flags = std::make_shared<RemoveFlags>();
  CLI::App* remove = cluster->add_subcommand(
      "remove",
      "Remove a member; refused when the healthy voters left would not be a "
      "majority, unless --force");
  remove->add_option("node_id", remove_flags->node_id, "the member's id")
      ->required()
      ->type_name("NODE_ID");
  remove->add_flag("--force", remove_flags->force,
                   "remove it even when the healthy voters left would not "
                   "be a majority");
  remove->footer(with_exit_codes(cli,
                                 "Example:\n"
                                 "  nwctl cluster remove nw-5e6f7a8b"));
  cli.actions[remove] = [remove_flags](Context& ctx) {
    return run_remove(ctx, *remove_flags);
  };

  auto transfer_flags = std::make_shared<TransferFlags>();
  CLI::App* transfer = cluster->add_subcommand(
      "transfer-leader",
      "Hand leadership to NODE_ID, or to the most caught-up other voter");
  transfer
      ->add_option("node_id", transfer_flags->node_id,
                   "the voter to become leader (default: the most "
                   "caught-up other voter)")
      ->type_name("NODE_ID");
  transfer->footer(
      with_exit_codes(cli,
                      "Examples:\n"
                      "  nwctl cluster transfer-leader\n"
                      "  nwctl cluster transfer-leader nw-5e6f7a8b"));
  cli.actions[transfer] = [transfer_flags](Context& ctx) {
    return run_transfer(ctx, *transfer_flags);
  };

  auto label_flags = std::make_shared<LabelFlags>();
  CLI::App* label = cluster->add_subcommand(
      "label", "Set or remove a member's labels and print the member");
  label->add_option("node_id", label_flags->node_id, "the member's id")
      ->required()
      ->type_name("NODE_ID");
  label->add_option("labels", label_flags->pairs, "labels to set")
      ->type_name("KEY=VALUE...");
  // One key per --remove, so "--remove zone rack=r1" leaves rack=r1 to the
  // positionals.
  label
      ->add_option("--remove", label_flags->remove,
                   "a label key to remove; repeat it for several")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("KEY");
  label->footer(
      with_exit_codes(cli,
                      "Examples:\n"
                      "  nwctl cluster label nw-1a2b3c4d rack=r1 zone=eu-1a\n"
                      "  nwctl cluster label nw-1a2b3c4d --remove zone"));
  cli.actions[label] = [label_flags](Context& ctx) {
    return run_label(ctx, *label_flags);
  };
}

}  // namespace nw::ctl
