// `nwctl bench produce|consume TOPIC`: load generators that report
// throughput and request latency. produce drives the Producer (the same
// code as `nwctl produce`) with generated messages; consume fetches every
// partition from the start with --in-flight threads. Each worker thread
// has its own client.
#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <random>

#include "cli/bench.h"
#include "cli/command_util.h"
#include "cli/consume.h"
#include "cli/context.h"
#include "cli/produce.h"
#include "cli/producer.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

constexpr std::uint64_t kDefaultMessages = 100000;
constexpr std::size_t kMaxBatchBytes = 8 << 20;  // under api.max_body_size
constexpr std::uint64_t kFetchBytes = 1 << 20;

double seconds_since(MonoTime t0) {
  return std::chrono::duration<double>(mono_now() - t0).count();
}

int finish(Context& ctx, const BenchReport& r, const std::optional<Error>& e) {
  if (ctx.output() == Output::json) {
    print_json(bench_json(r));
  } else {
    print_text(render_bench(r));
  }
  if (!e) return 0;
  if (r.failed > 0) {
    std::cerr << "nwctl: " << r.failed << " messages were not acknowledged\n";
  }
  return report(*e);
}

// A printable payload, the same for every message (the agent does not
// compress, so its content does not matter).
std::string payload(std::size_t size) {
  static constexpr char kChars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::minstd_rand rng(42);
  std::string s(size, 'x');
  for (char& c : s) c = kChars[rng() % (sizeof kChars - 1)];
  return s;
}

int run_bench_produce(Context& ctx, const Globals& globals,
                      const BenchFlags& flags) {
  auto parsed = parse_bench_flags(flags);
  if (!parsed.ok()) return report(parsed.error());
  BenchConfig config = parsed.value();
  if (!config.messages && !config.duration) config.messages = kDefaultMessages;
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto topic = RecordsApi(client.value()).topic(config.topic);
  if (!topic.ok()) return report(topic.error());

  ProducerOptions options;
  options.partitions = topic->partitions;
  options.batch_records = config.batch_size;
  options.batch_bytes = kMaxBatchBytes;
  options.producer_id = config.idempotent ? new_producer_id() : -1;
  options.workers = config.in_flight;
  // Ordering does not matter here; a producer id needs it.
  options.max_in_flight_per_partition = config.idempotent ? 1 : 0;
  options.delivery_timeout = ctx.timeout();

  BenchReport r;
  r.kind = "produce";
  r.topic = config.topic;
  std::vector<double> latencies;
  const Acks acks = config.acks;
  const std::string name = config.topic;
  const Globals* g = &globals;
  const Duration timeout = ctx.timeout();
  Producer producer(
      options,
      [g, timeout, name, acks]() -> Result<BatchSender> {
        NW_ASSIGN_OR_RETURN(std::unique_ptr<http::Client> c,
                            new_client(*g, timeout));
        std::shared_ptr<http::Client> shared(std::move(c));
        auto api = std::make_shared<RecordsApi>(
            shared.get(), leader_client_factory(*g, timeout));
        return BatchSender([shared, api, name, acks](std::uint32_t p,
                                                     const std::string& batch) {
          return api->produce(name, p, batch, acks);
        });
      },
      [&](const BatchOutcome& out) {  // serialized by the Producer
        ++r.requests;
        if (out.error) return;
        r.messages += out.tags.size();
        r.bytes += out.payload_bytes;
        latencies.push_back(static_cast<double>(out.latency.count()) / 1000.0);
      });
  if (Status s = producer.start(); !s.ok()) return report(s.error());

  Interrupt interrupt;
  const std::string value = payload(config.size);
  std::random_device rd;
  Partitioner partitioner(topic->partitions, std::nullopt, rd());
  const MonoTime t0 = mono_now();
  const std::optional<MonoTime> until =
      config.duration ? std::optional<MonoTime>(t0 + *config.duration)
                      : std::nullopt;
  std::uint64_t sent = 0;
  while (!Interrupt::requested()) {
    if (config.messages && sent >= *config.messages) break;
    // Checking the clock per message costs more than the check is worth.
    if (until && sent % 64 == 0 && mono_now() >= *until) break;
    records::Record rec;
    if (config.keys > 0) rec.key = "key-" + std::to_string(sent % config.keys);
    rec.value = value;
    rec.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           wall_now().time_since_epoch())
                           .count();
    std::uint32_t p = partitioner.choose(rec.key);
    if (!producer.add(p, std::move(rec), sent).ok()) break;
    ++sent;
  }
  Status s = producer.close();
  r.seconds = seconds_since(t0);
  r.failed = sent - r.messages;
  r.latency = latency_stats(std::move(latencies));
  std::optional<Error> err;
  if (!s.ok()) err = s.error();
  return finish(ctx, r, err);
}

int run_bench_consume(Context& ctx, const Globals& globals,
                      const BenchFlags& flags) {
  auto parsed = parse_bench_flags(flags);
  if (!parsed.ok()) return report(parsed.error());
  const BenchConfig config = parsed.value();
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  RecordsApi api(client.value());
  auto topic = api.topic(config.topic);
  if (!topic.ok()) return report(topic.error());
  auto start = api.offsets(config.topic, "earliest");
  if (!start.ok()) return report(start.error());
  auto end = api.offsets(config.topic, "latest");
  if (!end.ok()) return report(end.error());

  struct Part {
    std::uint32_t partition;
    std::uint64_t offset;
    std::uint64_t end;
  };
  const auto threads = static_cast<std::size_t>(std::max(
      1, std::min<int>(config.in_flight, static_cast<int>(topic->partitions))));
  std::vector<std::vector<Part>> shares(threads);
  std::uint64_t available = 0;
  for (std::uint32_t p = 0; p < topic->partitions; ++p) {
    std::uint64_t s = start->count(p) ? start->at(p) : 0;
    std::uint64_t e = end->count(p) ? end->at(p) : 0;
    if (e > s) available += e - s;
    shares[p % threads].push_back({p, s, e});
  }
  if (available == 0) {
    std::cerr << "nwctl: topic " << config.topic
              << " is empty; fill it first with: nwctl bench produce "
              << config.topic << "\n";
  }

  Interrupt interrupt;
  std::atomic<std::uint64_t> messages{0}, bytes{0}, requests{0};
  std::mutex mu;
  std::vector<double> latencies;  // GUARDED_BY(mu)
  std::optional<Error> error;     // GUARDED_BY(mu)
  std::atomic<bool> stop{false};
  const MonoTime t0 = mono_now();
  auto expired = [&] {
    return stop || Interrupt::requested() ||
           (config.duration && mono_now() - t0 >= *config.duration) ||
           (config.messages && messages >= *config.messages);
  };
  std::vector<std::thread> workers;
  for (std::vector<Part>& share : shares) {
    workers.push_back(spawn_thread([&, share]() mutable {
      auto made = new_client(globals, ctx.timeout());
      std::vector<double> mine;
      if (made.ok()) {
        RecordsApi fetcher(made.value().get(),
                           leader_client_factory(globals, ctx.timeout()));
        bool more = true;
        while (more && !expired()) {
          more = false;
          for (Part& part : share) {
            if (part.offset >= part.end || expired()) continue;
            MonoTime t = mono_now();
            auto res = fetcher.fetch(config.topic, part.partition, part.offset,
                                     kFetchBytes, 0);
            if (!res.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              if (!error) error = res.error();
              stop = true;
              break;
            }
            mine.push_back(
                std::chrono::duration<double, std::milli>(mono_now() - t)
                    .count());
            ++requests;
            std::uint64_t n = 0, b = 0;
            for (const records::Record& rec : res->records) {
              if (rec.offset >= part.end) break;
              ++n;
              b += (rec.key ? rec.key->size() : 0) +
                   (rec.value ? rec.value->size() : 0);
            }
            messages += n;
            bytes += b;
            if (res->next_offset <= part.offset) {
              // Nothing readable yet below the end: do not spin.
              std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            part.offset = std::max(part.offset, res->next_offset);
            more = more || part.offset < part.end;
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      if (!made.ok() && !error) error = made.error();
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    }));
  }
  for (std::thread& t : workers) t.join();

  BenchReport r;
  r.kind = "consume";
  r.topic = config.topic;
  r.seconds = seconds_since(t0);
  r.messages = messages;
  r.bytes = bytes;
  r.requests = requests;
  r.latency = latency_stats(std::move(latencies));
  return finish(ctx, r, error);
}

void add_common_flags(CLI::App* cmd, BenchFlags& f) {
  cmd->add_option("--messages", f.messages,
                  "stop after N messages (produce default: 100000)")
      ->type_name("N");
  cmd->add_option("--duration", f.duration,
                  "stop after this long (e.g. 30s), or at --messages if "
                  "that comes first")
      ->type_name("DURATION");
  cmd->add_option("--in-flight", f.in_flight,
                  "concurrent requests, one connection each (default 4)")
      ->type_name("N");
}

}  // namespace

void add_bench_commands(Cli& cli) {
  CLI::App* bench = cli.app->add_subcommand(
      "bench", "Measure produce and consume throughput and latency");
  bench->footer(command_footer(
      cli,
      "Example:\n"
      "  nwctl topic create bench --partitions 6 --replicas 3\n"
      "  nwctl bench produce bench --messages 1000000 --in-flight 8\n"
      "  nwctl bench consume bench"));

  auto pflags = std::make_shared<BenchFlags>();
  CLI::App* produce = bench->add_subcommand(
      "produce",
      "Send generated messages as fast as the cluster takes them; report "
      "messages/s, MB/s and per-batch latency");
  produce->add_option("topic", pflags->topic, "the topic")
      ->required()
      ->type_name("TOPIC");
  add_common_flags(produce, *pflags);
  produce
      ->add_option("--size", pflags->size,
                   "value bytes per message (default 1024)")
      ->type_name("BYTES");
  produce
      ->add_option("--keys", pflags->keys,
                   "distinct keys (0, the default: no keys, round robin)")
      ->type_name("K");
  produce
      ->add_option("--batch-size", pflags->batch_size,
                   "messages per batch (default 500)")
      ->type_name("N");
  CLI::Option* acks =
      produce->add_option("--acks", pflags->acks, "all (default), leader, none")
          ->type_name("ACKS");
  cli.hints.choices[acks] = {"all", "leader", "none"};
  produce->add_flag("--idempotent", pflags->idempotent,
                    "send with a producer id (then one batch per partition "
                    "in flight)");
  produce->footer(command_footer(
      cli,
      "Examples:\n"
      "  nwctl bench produce bench --duration 30s --in-flight 8\n"
      "  nwctl -o json bench produce bench --size 100 --keys 1000 | jq "
      ".messages_per_second"));
  const Globals* globals = &cli.globals;
  cli.actions[produce] = [pflags, globals](Context& ctx) {
    return run_bench_produce(ctx, *globals, *pflags);
  };

  auto cflags = std::make_shared<BenchFlags>();
  CLI::App* consume = bench->add_subcommand(
      "consume",
      "Read a topic from the start as fast as possible; report messages/s, "
      "MB/s and per-fetch latency");
  consume->add_option("topic", cflags->topic, "the topic")
      ->required()
      ->type_name("TOPIC");
  add_common_flags(consume, *cflags);
  consume->footer(command_footer(
      cli,
      "Example:\n"
      "  nwctl bench consume bench --in-flight 6\n\n"
      "Reads up to the end seen at start (or --messages / --duration)."));
  cli.actions[consume] = [cflags, globals](Context& ctx) {
    return run_bench_consume(ctx, *globals, *cflags);
  };
}

}  // namespace nw::ctl
