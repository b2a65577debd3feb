#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/records_client.h"
#include "common/base/result.h"
#include "common/base/units.h"

// The parts of `nwctl bench produce|consume` that do no I/O: the flags,
// latency percentiles and the report. bench.cc runs the load. Threads:
// none; pure functions.
namespace nw::ctl {

struct BenchFlags {
  std::string topic;
  std::string messages;
  std::string duration;
  std::string size = "1024";
  std::string keys = "0";
  std::string in_flight = "4";
  std::string batch_size = "500";
  std::string acks = "all";
  bool idempotent = false;
};

struct BenchConfig {
  std::string topic;
  // Stop after this many messages or this long, whichever comes first;
  // neither: 100000 messages (produce) or the end of the topic (consume).
  std::optional<std::uint64_t> messages;
  std::optional<Duration> duration;
  std::size_t size = 1024;  // value bytes per message
  std::uint64_t keys = 0;   // distinct keys; 0: no keys (round robin)
  int in_flight = 4;        // concurrent requests
  std::size_t batch_size = 500;
  Acks acks = Acks::all;
  bool idempotent = false;
};

// invalid_argument naming the flag for anything out of range: --messages
// >= 1, --duration > 0, --size 0..16MiB, --keys 0..10^9, --in-flight
// 1..256, --batch-size 1..100000, --acks all|leader|none.
Result<BenchConfig> parse_bench_flags(const BenchFlags& flags);

// Percentiles of request latencies, in milliseconds.
struct LatencyStats {
  double p50 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};
// Nearest-rank percentiles; all zero for no samples.
LatencyStats latency_stats(std::vector<double> ms);

struct BenchReport {
  std::string kind;  // "produce" | "consume"
  std::string topic;
  std::uint64_t messages = 0;  // acknowledged / consumed
  std::uint64_t bytes = 0;     // keys + values
  double seconds = 0;
  std::uint64_t requests = 0;  // produce batches / fetches
  std::uint64_t failed = 0;    // messages not acknowledged
  LatencyStats latency;
};

double messages_per_second(const BenchReport& r);
// Megabytes (10^6 bytes) of keys and values per second.
double mb_per_second(const BenchReport& r);
// The table: messages, seconds, messages/s, MB/s, requests, latency.
std::string render_bench(const BenchReport& r);
// The -o json object (one line): kind, topic, messages, bytes, seconds,
// messages_per_second, mb_per_second, requests, failed,
// latency_ms {p50, p99, p999, max}.
std::string bench_json(const BenchReport& r);

}  // namespace nw::ctl
