// `nwctl group list|describe|reset-offsets|delete`: the commands over
// /v1/groups (docs/api.md, "Consumer groups"). Bodies, decoders and tables
// live in group_format.cc (group.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cluster.h"
#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/group.h"
#include "common/api/json.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

struct GroupNameFlags {
  std::string group;
};

Error with_group_hint(std::string_view group, Error e) {
  if (e.code == Code::not_found && e.hint.empty()) {
    e.hint =
        "list the groups with: nwctl group list (a group exists while "
        "it has members or committed offsets)";
  }
  if (e.code == Code::failed_precondition && e.hint.empty()) {
    e.hint =
        "stop the group's consumers first; see them with: nwctl group "
        "describe " +
        std::string(group);
  }
  return e;
}

int run_list(Context& ctx) {
  return show(ctx, "/v1/groups", "group list", group_list_from_json,
              [](const auto& g) { return render_group_list(g); });
}

int run_describe(Context& ctx, const GroupNameFlags& flags) {
  if (Status s = check_name("group", flags.group); !s.ok()) {
    return report(s.error());
  }
  return show(
      ctx, group_path(flags.group), "group", group_from_json,
      [](const auto& g) { return render_group(g); },
      [&](Error e) { return with_group_hint(flags.group, std::move(e)); });
}

int run_reset(Context& ctx, const ResetFlags& flags) {
  auto body = reset_body(flags, wall_now());
  if (!body.ok()) return report(body.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post(group_path(flags.group) + "/reset-offsets",
                                   body.value());
  if (!resp.ok()) return report(with_group_hint(flags.group, resp.error()));
  auto plan = reset_plan_from_json(resp.value().body);
  if (!plan.ok()) return report(plan.error());
  int rc = print_answer(ctx, resp.value().body, "reset-offsets",
                        render_reset_plan(plan.value()));
  if (rc == 0 && !plan->executed) {
    std::cerr << "nwctl: dry run: nothing changed; run again with --execute "
                 "to move the offsets\n";
  }
  return rc;
}

int run_delete(Context& ctx, const GroupNameFlags& flags) {
  if (Status s = check_name("group", flags.group); !s.ok()) {
    return report(s.error());
  }
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->del(group_path(flags.group));
  if (!resp.ok()) return report(with_group_hint(flags.group, resp.error()));
  if (ctx.output() == Output::json) {
    print_json(api::to_body(
        nlohmann::json{{"group", flags.group}, {"deleted", true}}, 2));
  } else {
    print_text("deleted group " + flags.group + "\n");
  }
  return 0;
}

}  // namespace

void add_group_commands(Cli& cli) {
  CLI::App* group = cli.app->add_subcommand(
      "group", "List, inspect, reset and delete consumer groups");
  group->footer(command_footer(
      cli,
      "Example:\n  nwctl group describe billing\n\n"
      "Run 'nwctl group <command> --help' for a command; consume as a "
      "group member with 'nwctl consume TOPIC --group GROUP'."));

  CLI::App* list = group->add_subcommand(
      "list",
      "List the consumer groups with their state, members and "
      "generation");
  list->footer(command_footer(cli, "Example:\n  nwctl group list"));
  cli.actions[list] = [](Context& ctx) { return run_list(ctx); };

  auto describe_flags = std::make_shared<GroupNameFlags>();
  CLI::App* describe = group->add_subcommand(
      "describe",
      "Show a group's members and their partitions, and each partition's "
      "committed offset and lag");
  describe->add_option("group", describe_flags->group, "the group")
      ->required()
      ->type_name("GROUP");
  describe->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl group describe billing\n"
      "  nwctl -o json group describe billing | jq '[.offsets[].lag] | add'"
      "\n\nExits 3 when the group has neither members nor offsets."));
  cli.actions[describe] = [describe_flags](Context& ctx) {
    return run_describe(ctx, *describe_flags);
  };

  auto reset_flags = std::make_shared<ResetFlags>();
  CLI::App* reset = group->add_subcommand(
      "reset-offsets",
      "Move a stopped group's committed offsets for a topic; prints the "
      "plan and changes nothing without --execute");
  reset->add_option("group", reset_flags->group, "the group")
      ->required()
      ->type_name("GROUP");
  reset->add_option("--topic", reset_flags->topic, "the topic (required)")
      ->type_name("TOPIC");
  reset->add_flag("--to-earliest", reset_flags->to_earliest,
                  "to the oldest offset still stored");
  reset->add_flag("--to-latest", reset_flags->to_latest,
                  "to the high watermark (skip everything so far)");
  reset
      ->add_option("--to-offset", reset_flags->to_offset,
                   "to this offset in every partition (clamped into range)")
      ->type_name("N");
  reset
      ->add_option("--to-time", reset_flags->to_time,
                   "to the first message at or after this time (RFC 3339, "
                   "or -2h for two hours ago)")
      ->type_name("TIME");
  reset
      ->add_option("--shift-by", reset_flags->shift_by,
                   "move by N (negative: back); write --shift-by=-N")
      ->type_name("N");
  reset->add_flag("--execute", reset_flags->execute,
                  "apply the plan (default: only print it)");
  reset->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl group reset-offsets billing --topic orders --to-earliest\n"
      "  nwctl group reset-offsets billing --topic orders --to-time "
      "2026-11-22T10:00:00Z --execute\n"
      "  nwctl group reset-offsets billing --topic orders --shift-by=-100 "
      "--execute\n\n"
      "Exits 4 while the group has members: stop its consumers first."));
  cli.actions[reset] = [reset_flags](Context& ctx) {
    return run_reset(ctx, *reset_flags);
  };

  auto delete_flags = std::make_shared<GroupNameFlags>();
  CLI::App* del = group->add_subcommand(
      "delete", "Delete a stopped group's committed offsets (no prompt)");
  del->add_option("group", delete_flags->group, "the group")
      ->required()
      ->type_name("GROUP");
  del->footer(command_footer(
      cli,
      "Example:\n  nwctl group delete billing\n\n"
      "Exits 3 for an unknown group and 4 while it has members."));
  cli.actions[del] = [delete_flags](Context& ctx) {
    return run_delete(ctx, *delete_flags);
  };
}

}  // namespace nw::ctl
