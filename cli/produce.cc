// `nwctl produce TOPIC`: one message per input line, batched per
// partition and sent by the Producer (producer.h) with idempotent retries.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <random>

#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/produce.h"
#include "cli/producer.h"
#include "common/base/time.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

constexpr int kMaxWorkers = 4;

// Makes one sender per worker thread, each with its own client.
SenderFactory sender_factory(const Globals& globals, Duration timeout,
                             std::string topic, Acks acks) {
  return [&globals, timeout, topic = std::move(topic),
          acks]() -> Result<BatchSender> {
    NW_ASSIGN_OR_RETURN(std::unique_ptr<http::Client> c,
                        new_client(globals, timeout));
    std::shared_ptr<http::Client> client(std::move(c));
    auto api = std::make_shared<RecordsApi>(
        client.get(), leader_client_factory(globals, timeout));
    return BatchSender([client, api, topic, acks](std::uint32_t partition,
                                                  const std::string& batch) {
      return api->produce(topic, partition, batch, acks);
    });
  };
}

int run_produce(Context& ctx, const Globals& globals,
                const ProduceFlags& flags) {
  auto parsed = parse_produce_flags(flags);
  if (!parsed.ok()) return report(parsed.error());
  const ProduceConfig& config = parsed.value();

  int fd = STDIN_FILENO;
  if (!config.file.empty() && config.file != "-") {
    fd = ::open(config.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return report(Error(Code::io_error,
                          "cannot open --file " + single_quote(config.file) +
                              ": " + std::strerror(errno),
                          "give a readable file, or leave out --file to read "
                          "standard input",
                          "cli"));
    }
  }
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd != STDIN_FILENO) ::close(fd);
    }
  } close_fd{fd};

  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  auto topic = RecordsApi(client.value()).topic(config.topic);
  if (!topic.ok()) return report(topic.error());
  const std::uint32_t partitions = topic->partitions;
  if (config.partition && *config.partition >= partitions) {
    return report(usage(
        "--partition " + std::to_string(*config.partition) + ": topic " +
            config.topic + " has partitions 0 to " +
            std::to_string(partitions - 1),
        "leave out --partition to spread messages by key or round robin"));
  }

  ProducerOptions options;
  options.partitions = partitions;
  options.batch_records = config.batch_size;
  options.producer_id = config.idempotent ? new_producer_id() : -1;
  options.workers =
      config.partition
          ? 1
          : static_cast<int>(std::min<std::uint32_t>(partitions, kMaxWorkers));
  options.max_in_flight_per_partition = 1;  // keeps each partition in order
  options.delivery_timeout = ctx.timeout();

  const bool json = ctx.output() == Output::json;
  std::uint64_t acknowledged = 0;
  Producer producer(
      options,
      sender_factory(globals, ctx.timeout(), config.topic, config.acks),
      [&](const BatchOutcome& out) {
        if (out.error) return;
        acknowledged += out.tags.size();
        if (!json) return;
        std::string lines;
        for (std::size_t i = 0; i < out.tags.size(); ++i) {
          std::optional<std::uint64_t> offset;
          if (out.base_offset) offset = *out.base_offset + i;
          lines += ack_line(out.partition, offset, out.tags[i]);
          lines += '\n';
        }
        print_text(lines);
      });
  if (Status s = producer.start(); !s.ok()) return report(s.error());

  Interrupt interrupt;
  // A reader that goes away (`nwctl produce ... | head`) must not kill the
  // producer with batches in flight: writes to stdout then just fail.
  std::signal(SIGPIPE, SIG_IGN);
  if (::isatty(fd)) {
    std::cerr << "nwctl: reading messages for " << config.topic
              << ", one per line; end with Ctrl-D\n";
  }
  std::random_device rd;
  Partitioner partitioner(partitions, config.partition, rd());
  LineReader reader(fd);
  std::uint64_t read = 0;
  std::optional<Error> input_error;
  std::string line;
  while (true) {
    auto more = reader.next(&line, [&] { producer.flush(); });
    if (!more.ok()) {
      input_error = more.error();
      break;
    }
    if (!more.value()) break;
    auto record = line_to_record(line, config, read + 1);
    if (!record.ok()) {
      input_error = record.error();
      break;
    }
    record->timestamp_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            wall_now().time_since_epoch())
            .count();
    std::uint32_t p = partitioner.choose(record->key);
    ++read;
    if (!producer.add(p, std::move(record).value(), read).ok()) break;
  }
  Status sent = producer.close();

  if (Interrupt::requested()) {
    std::cerr << "nwctl: interrupted: stopped reading after " << read
              << " messages\n";
  }
  if (!sent.ok() || acknowledged < read) {
    Error reason = sent.ok() ? Error(Code::internal, "unknown") : sent.error();
    std::cerr << "nwctl: "
              << not_acknowledged(read - acknowledged, read, reason) << "\n";
    if (!reason.hint.empty()) std::cerr << "hint: " << reason.hint << "\n";
    return exit_code(reason.code);
  }
  if (input_error) {
    std::cerr << "nwctl: " << acknowledged
              << " messages before the error were acknowledged\n";
    return report(*input_error);
  }
  if (!json) {
    print_text("produced " + std::to_string(acknowledged) +
               (acknowledged == 1 ? " message" : " messages") + " to " +
               config.topic + "\n");
  }
  return 0;
}

}  // namespace

void add_produce_commands(Cli& cli) {
  auto flags = std::make_shared<ProduceFlags>();
  CLI::App* produce = cli.app->add_subcommand(
      "produce",
      "Send one message per line of standard input (or --file) to a topic");
  produce->add_option("topic", flags->topic, "the topic")
      ->required()
      ->type_name("TOPIC");
  produce
      ->add_option("--file", flags->file,
                   "read the messages from this file instead of "
                   "standard input")
      ->type_name("FILE");
  CLI::Option* key =
      produce->add_option("--key", flags->key,
                          "the key of every message (messages with one key "
                          "go to one partition, in order)");
  key->type_name("KEY");
  produce
      ->add_option("--key-separator", flags->key_separator,
                   "read each line as KEY<SEP>VALUE, split at the first SEP")
      ->type_name("SEP");
  produce
      ->add_option("--header", flags->headers,
                   "a header on every message; repeat for several")
      ->type_name("KEY=VALUE")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  produce
      ->add_option("--partition", flags->partition,
                   "send every message to this partition (default: by key "
                   "hash, else round robin)")
      ->type_name("P");
  CLI::Option* acks =
      produce
          ->add_option("--acks", flags->acks,
                       "when a batch counts as sent: all (a majority of the "
                       "replicas has it), leader, none")
          ->default_str("all")
          ->type_name("ACKS");
  cli.hints.choices[acks] = {"all", "leader", "none"};
  produce
      ->add_option("--batch-size", flags->batch_size,
                   "messages per batch (default 500)")
      ->type_name("N");
  produce->add_flag("--idempotent,!--no-idempotent", flags->idempotent,
                    "tag batches with a producer id and sequence so a retry "
                    "never writes a message twice (default: on)");
  produce->footer(command_footer(
      cli,
      "Examples:\n"
      "  echo hello | nwctl produce orders\n"
      "  nwctl produce orders --file events.txt --key-separator :\n"
      "  nwctl -o json produce orders --header source=billing < in.txt\n\n"
      "Unavailable and timeout errors are retried with the same producer id "
      "and sequence until --timeout passes. With -o json one line per "
      "acknowledged message: {\"partition\": P, \"offset\": O, \"line\": N}. "
      "Exits non-zero "
      "when any message was not acknowledged (5 unavailable, 7 timed out, "
      "...), saying how many."));
  const Globals* globals = &cli.globals;
  cli.actions[produce] = [flags, key, globals](Context& ctx) {
    ProduceFlags f = *flags;
    f.key_given = key->count() > 0;
    return run_produce(ctx, *globals, f);
  };
}

}  // namespace nw::ctl
