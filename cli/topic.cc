// `nwctl topic create|list|describe|alter|delete|reassign`: the commands
// over /v1/topics (docs/api.md, "Topics"). Checks, bodies and tables live
// in topic_format.cc (topic.h); this file wires them to CLI11 and the
// HTTP client.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cluster.h"
#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/records_client.h"
#include "cli/topic.h"
#include "common/api/json.h"
#include "common/base/strings.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

struct NameFlags {
  std::string name;
};

std::string plural(std::uint64_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

int run_create(Context& ctx, const TopicCreateFlags& flags) {
  auto body = topic_create_body(flags);
  if (!body.ok()) return report(body.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->post("/v1/topics", body.value());
  if (!resp.ok()) {
    Error e = resp.error();
    if (e.code == Code::conflict && e.hint.empty()) {
      e.hint = "see it with: nwctl topic describe " + flags.name;
    }
    return report(e);
  }
  auto topic = topic_from_json(resp.value().body);
  if (!topic.ok()) return report(topic.error());
  return print_answer(ctx, resp.value().body, "topic",
                      "created topic " + topic->name + " (" +
                          plural(topic->partitions, "partition") + ", " +
                          plural(topic->replicas, "replica") + ")\n");
}

int run_list(Context& ctx) {
  return show(ctx, "/v1/topics", "topic list", topic_list_from_json,
              [](const auto& t) { return render_topic_list(t); });
}

int run_describe(Context& ctx, const NameFlags& flags) {
  if (Status s = check_name("topic", flags.name); !s.ok()) {
    return report(s.error());
  }
  return show(
      ctx, topic_path(flags.name), "topic", topic_from_json,
      [](const auto& t) { return render_topic(t); },
      [&](Error e) { return with_topic_hint(flags.name, std::move(e)); });
}

int run_alter(Context& ctx, const TopicAlterFlags& flags) {
  auto body = topic_alter_body(flags);
  if (!body.ok()) return report(body.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->patch(topic_path(flags.name), body.value());
  if (!resp.ok()) return report(with_topic_hint(flags.name, resp.error()));
  auto topic = topic_from_json(resp.value().body);
  if (!topic.ok()) return report(topic.error());
  return print_answer(
      ctx, resp.value().body, "topic",
      "altered topic " + flags.name + "\n" + render_topic(topic.value()));
}

int run_delete(Context& ctx, const NameFlags& flags) {
  if (Status s = check_name("topic", flags.name); !s.ok()) {
    return report(s.error());
  }
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp = client.value()->del(topic_path(flags.name));
  if (!resp.ok()) return report(with_topic_hint(flags.name, resp.error()));
  if (ctx.output() == Output::json) {
    print_json(api::to_body(
        nlohmann::json{{"topic", flags.name}, {"deleted", true}}, 2));
  } else {
    print_text("deleted topic " + flags.name + "\n");
  }
  return 0;
}

int run_reassign(Context& ctx, const TopicReassignFlags& flags) {
  auto body = topic_reassign_body(flags);
  if (!body.ok()) return report(body.error());
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto resp =
      client.value()->post(topic_path(flags.name) + "/reassign", body.value());
  if (!resp.ok()) return report(with_topic_hint(flags.name, resp.error()));
  nlohmann::json req = nlohmann::json::parse(body.value());
  std::string to = join(req["replicas"].get<std::vector<std::string>>(), ",");
  // The answer's plan is not specified beyond "the plan": use its "from"
  // (the replicas now) when it has one, and print it as sent for -o json.
  std::string from;
  auto answer = nlohmann::json::parse(resp.value().body, nullptr, false);
  if (answer.is_object() && answer.contains("from") &&
      answer["from"].is_array()) {
    std::vector<std::string> ids;
    for (const auto& id : answer["from"]) {
      if (id.is_string()) ids.push_back(id.get<std::string>());
    }
    from = join(ids, ",") + " -> ";
  }
  std::string text = "reassigning " + flags.name + " partition " +
                     std::to_string(req["partition"].get<std::int64_t>()) +
                     ": " + from + to + "\nfollow it with: nwctl topic " +
                     "describe " + flags.name +
                     " (status is reassigning until it is done)\n";
  if (ctx.output() == Output::json && !answer.is_object()) {
    print_json(api::to_body(req, 2));
    return 0;
  }
  return print_answer(ctx, resp.value().body, "reassign", text);
}

}  // namespace

void add_topic_commands(Cli& cli) {
  CLI::App* topic = cli.app->add_subcommand(
      "topic", "Create, list, describe, change and delete topics");
  topic->footer(command_footer(
      cli,
      "Example:\n  nwctl topic create orders --partitions 3 --replicas 3\n\n"
      "Run 'nwctl topic <command> --help' for a command."));

  auto create_flags = std::make_shared<TopicCreateFlags>();
  CLI::App* create = topic->add_subcommand(
      "create",
      "Create a topic with P partitions, each replicated to R agents");
  create->add_option("name", create_flags->name, "the topic's name")
      ->required()
      ->type_name("NAME");
  create
      ->add_option("--partitions", create_flags->partitions,
                   "number of partitions, 1-1024 (required)")
      ->type_name("P");
  create
      ->add_option("--replicas", create_flags->replicas,
                   "copies of each partition, 1-7 and at most the number "
                   "of agents (required)")
      ->type_name("R");
  create
      ->add_option("--retention-ms", create_flags->retention_ms,
                   "delete data older than this: milliseconds or a "
                   "duration (7d, 12h); -1 keeps it forever (default 7d)")
      ->type_name("DURATION");
  create
      ->add_option("--retention-bytes", create_flags->retention_bytes,
                   "delete the oldest data when a partition is larger: "
                   "bytes or a size (10GiB); -1 for no limit (default)")
      ->type_name("SIZE");
  create
      ->add_option("--segment-bytes", create_flags->segment_bytes,
                   "size of each segment file, at least 1MiB (default "
                   "128MiB)")
      ->type_name("SIZE");
  create
      ->add_option("--segment-ms", create_flags->segment_ms,
                   "roll a partition's active segment once it is this old, "
                   "even when idle, so time retention can delete it: "
                   "milliseconds or a duration (default 7d, or "
                   "--retention-ms when shorter)")
      ->type_name("DURATION");
  create->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl topic create orders --partitions 3 --replicas 3\n"
      "  nwctl topic create audit --partitions 1 --replicas 3 "
      "--retention-ms 30d --retention-bytes 50GiB\n\n"
      "Exits 4 when the topic exists or there are fewer agents than "
      "replicas."));
  cli.actions[create] = [create_flags](Context& ctx) {
    return run_create(ctx, *create_flags);
  };

  CLI::App* list = topic->add_subcommand(
      "list",
      "List the topics with their partitions, replicas and "
      "retention");
  list->footer(command_footer(cli,
                              "Examples:\n"
                              "  nwctl topic list\n"
                              "  nwctl -o json topic list | jq -r "
                              "'.topics[].name'"));
  cli.actions[list] = [](Context& ctx) { return run_list(ctx); };

  auto describe_flags = std::make_shared<NameFlags>();
  CLI::App* describe = topic->add_subcommand(
      "describe",
      "Show a topic's settings and each partition's leader, replicas, "
      "in-sync replicas, high watermark, start offset, size and status");
  describe->add_option("name", describe_flags->name, "the topic's name")
      ->required()
      ->type_name("NAME");
  describe->footer(
      command_footer(cli,
                     "Examples:\n"
                     "  nwctl topic describe orders\n"
                     "  nwctl -o json topic describe orders | jq "
                     "'.partition_states[] | select(.status != \"online\")'\n\n"
                     "Exits 3 when the topic does not exist."));
  cli.actions[describe] = [describe_flags](Context& ctx) {
    return run_describe(ctx, *describe_flags);
  };

  auto alter_flags = std::make_shared<TopicAlterFlags>();
  CLI::App* alter = topic->add_subcommand(
      "alter", "Add partitions or change a topic's retention or segments");
  alter->add_option("name", alter_flags->name, "the topic's name")
      ->required()
      ->type_name("NAME");
  alter
      ->add_option("--partitions", alter_flags->partitions,
                   "the new partition count (only more, never fewer; keys "
                   "then map to other partitions)")
      ->type_name("P");
  alter
      ->add_option("--retention-ms", alter_flags->retention_ms,
                   "new time limit: milliseconds or a duration; -1 for "
                   "none")
      ->type_name("DURATION");
  alter
      ->add_option("--retention-bytes", alter_flags->retention_bytes,
                   "new size limit per partition; -1 for none")
      ->type_name("SIZE");
  alter
      ->add_option("--segment-bytes", alter_flags->segment_bytes,
                   "new segment file size, at least 1MiB (new segments)")
      ->type_name("SIZE");
  alter
      ->add_option("--segment-ms", alter_flags->segment_ms,
                   "new segment age limit: milliseconds or a duration; "
                   "default for min(7d, retention)")
      ->type_name("DURATION");
  alter->footer(command_footer(cli,
                               "Examples:\n"
                               "  nwctl topic alter orders --partitions 6\n"
                               "  nwctl topic alter orders --retention-ms 3d "
                               "--retention-bytes -1"));
  cli.actions[alter] = [alter_flags](Context& ctx) {
    return run_alter(ctx, *alter_flags);
  };

  auto delete_flags = std::make_shared<NameFlags>();
  CLI::App* del = topic->add_subcommand(
      "delete", "Delete a topic and its data on every replica (no prompt)");
  del->add_option("name", delete_flags->name, "the topic's name")
      ->required()
      ->type_name("NAME");
  del->footer(command_footer(cli,
                             "Example:\n  nwctl topic delete orders\n\n"
                             "Exits 3 when the topic does not exist."));
  cli.actions[del] = [delete_flags](Context& ctx) {
    return run_delete(ctx, *delete_flags);
  };

  auto reassign_flags = std::make_shared<TopicReassignFlags>();
  CLI::App* reassign = topic->add_subcommand(
      "reassign",
      "Move one partition's replicas to the given agents (new ones catch up "
      "first); returns at once");
  reassign->add_option("name", reassign_flags->name, "the topic's name")
      ->required()
      ->type_name("NAME");
  reassign
      ->add_option("--partition", reassign_flags->partition,
                   "the partition to move (required)")
      ->type_name("P");
  reassign
      ->add_option("--replicas", reassign_flags->replicas,
                   "the node ids to hold it, comma-separated; the first is "
                   "the preferred leader (required)")
      ->delimiter(',')
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("ID,ID,...");
  reassign->footer(command_footer(
      cli,
      "Example:\n"
      "  nwctl topic reassign orders --partition 0 --replicas "
      "nw-1a2b3c4d,nw-5e6f7a8b,nw-9c0d1e2f\n"
      "  nwctl topic describe orders     # status: reassigning, then "
      "online"));
  cli.actions[reassign] = [reassign_flags](Context& ctx) {
    return run_reassign(ctx, *reassign_flags);
  };
}

}  // namespace nw::ctl
