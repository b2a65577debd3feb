// `nwctl consume TOPIC`: reads partitions from --from up to the high
// watermark seen at start (or forever with --follow), a few partitions in
// parallel, each fetch thread with its own client. With --group the
// group_consumer.cc member runs instead.
#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>

#include "cli/command_util.h"
#include "cli/consume.h"
#include "cli/context.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

constexpr std::uint32_t kMaxFetchThreads = 8;
constexpr std::uint32_t kRoundWaitMs = 200;

// One partition as a fetch thread sees it.
struct Cursor {
  std::uint32_t partition = 0;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> end;  // stop here (without --follow)
  bool done = false;
};

// What the fetch threads share besides the printer.
struct Shared {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Error> error;  // GUARDED_BY(mu): the first failure

  void fail(Error e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = std::move(e);
    stop = true;
  }
  bool stopping() const { return stop || Interrupt::requested(); }
};

// Sleeps up to d, waking early when the consumer stops.
void nap(const Shared& shared, Duration d) {
  MonoTime until = mono_now() + d;
  while (!shared.stopping() && mono_now() < until) {
    std::this_thread::sleep_for(std::min(Duration(50), d));
  }
}

// Fetches one round over `cursors` until all are done or the consumer
// stops. Retries unavailable and timeout errors (for --timeout without
// --follow; for ever with it, saying so once).
void fetch_loop(const Globals& globals, Duration timeout,
                const ConsumeConfig& config, std::vector<Cursor> cursors,
                RecordPrinter& printer, Shared& shared) {
  auto made = new_client(globals, timeout);
  if (!made.ok()) return shared.fail(made.error());
  std::unique_ptr<http::Client> client = std::move(made).value();
  RecordsApi api(client.get(), leader_client_factory(globals, timeout));
  const std::uint32_t long_wait = long_poll_ms(timeout);
  bool idle_round = false;
  // When the current run of unavailable/timeout errors began (GCC warns
  // about std::optional<time_point> here, hence the flag).
  bool failing = false;
  MonoTime failing_since{};
  while (!shared.stopping()) {
    std::size_t active = 0;
    for (const Cursor& c : cursors) active += c.done ? 0 : 1;
    if (active == 0) return;
    bool got = false;
    for (Cursor& c : cursors) {
      if (c.done || shared.stopping()) continue;
      std::uint32_t wait = !config.follow ? 0
                           : active == 1  ? long_wait
                           : idle_round   ? std::min(kRoundWaitMs, long_wait)
                                          : 0;
      auto res = api.fetch(config.topic, c.partition, c.offset,
                           config.max_bytes, wait);
      if (!res.ok()) {
        Error e = res.error().wrap("partition " + std::to_string(c.partition));
        if (e.code == Code::failed_precondition &&
            config.from.kind != StartFrom::Kind::offset) {
          // Retention may have deleted what we were about to read.
          auto earliest = api.offsets(config.topic, "earliest");
          if (earliest.ok() && earliest->count(c.partition) != 0 &&
              earliest->at(c.partition) > c.offset) {
            std::cerr << "nwctl: partition " << c.partition << ": offsets "
                      << c.offset << " to " << earliest->at(c.partition) - 1
                      << " were deleted by retention; skipping them\n";
            c.offset = earliest->at(c.partition);
            continue;
          }
        }
        if (e.code == Code::failed_precondition && e.hint.empty()) {
          e.hint = "see the partition's offsets with: nwctl topic describe " +
                   config.topic + "; or use --from earliest";
        }
        if (e.code != Code::unavailable && e.code != Code::timeout) {
          return shared.fail(e);
        }
        if (!failing) {
          failing = true;
          failing_since = mono_now();
          if (config.follow) {
            std::cerr << "nwctl: " << e.message << "; retrying\n";
          }
        } else if (!config.follow && mono_now() - failing_since > timeout) {
          return shared.fail(e);
        }
        nap(shared, Duration(500));
        continue;
      }
      failing = false;
      std::vector<records::Record>& recs = res->records;
      if (c.end) {
        while (!recs.empty() && recs.back().offset >= *c.end) recs.pop_back();
      }
      std::size_t printed = printer.print(c.partition, recs);
      c.offset =
          printed < recs.size() ? recs[printed].offset : res->next_offset;
      if (printed < recs.size() || printer.limit_reached()) {
        shared.stop = true;  // -n reached
        return;
      }
      got = got || !recs.empty();
      if (c.end && c.offset >= *c.end) c.done = true;
    }
    idle_round = !got;
    if (!config.follow && !got) nap(shared, Duration(kRoundWaitMs));
  }
}

int run_consume(Context& ctx, const Globals& globals,
                const ConsumeFlags& flags) {
  auto parsed = parse_consume_flags(flags, wall_now());
  if (!parsed.ok()) return report(parsed.error());
  const ConsumeConfig& config = parsed.value();
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  RecordsApi api(client.value());
  auto topic = api.topic(config.topic);
  if (!topic.ok()) return report(topic.error());
  if (config.partition && *config.partition >= topic->partitions) {
    return report(usage("--partition " + std::to_string(*config.partition) +
                            ": topic " + config.topic +
                            " has partitions 0 "
                            "to " +
                            std::to_string(topic->partitions - 1),
                        "leave out --partition to read every partition"));
  }
  if (!config.group.empty()) {
    return run_group_consume(ctx, globals, config);
  }

  std::vector<Cursor> cursors;
  for (std::uint32_t p = 0; p < topic->partitions; ++p) {
    if (config.partition && p != *config.partition) continue;
    Cursor c;
    c.partition = p;
    cursors.push_back(c);
  }
  if (config.from.kind == StartFrom::Kind::offset) {
    for (Cursor& c : cursors) c.offset = config.from.offset;
  } else {
    auto start = api.offsets(config.topic, offsets_query(config.from));
    if (!start.ok()) return report(start.error());
    for (Cursor& c : cursors) {
      auto it = start->find(c.partition);
      if (it != start->end()) c.offset = it->second;
    }
  }
  if (!config.follow) {
    auto end = api.offsets(config.topic, "latest");
    if (!end.ok()) return report(end.error());
    for (Cursor& c : cursors) {
      auto it = end->find(c.partition);
      c.end = it != end->end() ? it->second : 0;
      c.done = c.offset >= *c.end;
    }
  }

  Interrupt interrupt;
  RecordPrinter printer(ctx.output(), config.count);
  Shared shared;
  const auto threads = std::min<std::size_t>(cursors.size(), kMaxFetchThreads);
  std::vector<std::vector<Cursor>> shares(threads);
  for (std::size_t i = 0; i < cursors.size(); ++i) {
    shares[i % threads].push_back(cursors[i]);
  }
  std::vector<std::thread> workers;
  for (auto& share : shares) {
    workers.push_back(spawn_thread([&, share] {
      fetch_loop(globals, ctx.timeout(), config, share, printer, shared);
    }));
  }
  for (std::thread& t : workers) t.join();
  std::lock_guard<std::mutex> lock(shared.mu);
  if (shared.error) return report(*shared.error);
  return 0;  // also after Ctrl-C: stopping a --follow consumer is normal
}

}  // namespace

void add_consume_commands(Cli& cli) {
  auto flags = std::make_shared<ConsumeFlags>();
  CLI::App* consume = cli.app->add_subcommand(
      "consume",
      "Print a topic's messages, from every partition or one, alone or as a "
      "member of a consumer group");
  consume->add_option("topic", flags->topic, "the topic")
      ->required()
      ->type_name("TOPIC");
  consume
      ->add_option("--group", flags->group,
                   "join this consumer group: read the partitions it "
                   "assigns, from its committed offsets, and commit")
      ->type_name("GROUP");
  consume
      ->add_option("--strategy", flags->strategy,
                   "with --group: how the group shares partitions, range "
                   "(default) or roundrobin; the group keeps its first "
                   "member's")
      ->type_name("STRATEGY");
  consume
      ->add_option("--session-timeout", flags->session_timeout,
                   "with --group: how long the group waits for this "
                   "member's heartbeat before it takes its partitions away "
                   "(1s to 5m, default 10s)")
      ->type_name("DURATION");
  consume
      ->add_option("--from", flags->from,
                   "where to start: earliest (default), latest, an offset, "
                   "a time (2026-11-22T10:00:00Z) or a duration ago (-15m); "
                   "with --group only where nothing is committed")
      ->type_name("FROM");
  consume
      ->add_option("--partition", flags->partition,
                   "read only this partition (not with --group)")
      ->type_name("P");
  consume->add_option("-n,--count", flags->count, "stop after COUNT messages")
      ->type_name("COUNT");
  consume->add_flag("-f,--follow", flags->follow,
                    "keep waiting for new messages until Ctrl-C (default: "
                    "stop at the end seen at start)");
  consume
      ->add_option("--max-bytes", flags->max_bytes,
                   "bytes to fetch per request and partition (default 1MiB)")
      ->type_name("SIZE");
  consume->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl consume orders                       # everything so far\n"
      "  nwctl consume orders --from -1h -n 10      # 10 from the last hour\n"
      "  nwctl consume orders --follow --from latest\n"
      "  nwctl consume orders --group billing --follow\n"
      "  nwctl -o json consume orders | jq -r .value\n\n"
      "Table output prints each value on a line; -o json prints one object "
      "per message: partition, offset, timestamp, key, value, headers (keys "
      "and values that are not UTF-8 are base64, marked by key_encoding / "
      "value_encoding). Ctrl-C stops cleanly (exit 0), leaving the group."));
  const Globals* globals = &cli.globals;
  cli.actions[consume] = [flags, globals](Context& ctx) {
    return run_consume(ctx, *globals, *flags);
  };
}

}  // namespace nw::ctl
