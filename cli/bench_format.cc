// The pure half of `nwctl bench` (see bench.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/bench.h"
#include "cli/command_util.h"
#include "cli/context.h"
#include "common/api/json.h"
#include "common/base/strings.h"

namespace nw::ctl {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double round_to(double v, int digits) {
  double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

}  // namespace

Result<BenchConfig> parse_bench_flags(const BenchFlags& f) {
  BenchConfig c;
  NW_RETURN_IF_ERROR(check_name("topic", f.topic));
  c.topic = f.topic;
  if (!f.messages.empty()) {
    NW_ASSIGN_OR_RETURN(std::int64_t n,
                        parse_int_flag("--messages", f.messages, 1, INT64_MAX,
                                       "e.g. --messages 1000000"));
    c.messages = static_cast<std::uint64_t>(n);
  }
  if (!f.duration.empty()) {
    auto d = parse_duration(trim(f.duration));
    if (!d.ok() || d.value().count() <= 0) {
      return usage("--duration: expected a duration such as 30s or 5m, got " +
                       single_quote(f.duration),
                   "e.g. --duration 1m");
    }
    c.duration = d.value();
  }
  NW_ASSIGN_OR_RETURN(std::int64_t size,
                      parse_int_flag("--size", f.size, 0, 16 << 20,
                                     "value bytes per message, e.g. 1024"));
  c.size = static_cast<std::size_t>(size);
  NW_ASSIGN_OR_RETURN(
      std::int64_t keys,
      parse_int_flag("--keys", f.keys, 0, 1000000000,
                     "distinct keys; 0 sends messages without keys"));
  c.keys = static_cast<std::uint64_t>(keys);
  NW_ASSIGN_OR_RETURN(std::int64_t in_flight,
                      parse_int_flag("--in-flight", f.in_flight, 1, 256,
                                     "concurrent requests, e.g. 8"));
  c.in_flight = static_cast<int>(in_flight);
  NW_ASSIGN_OR_RETURN(std::int64_t batch,
                      parse_int_flag("--batch-size", f.batch_size, 1, 100000,
                                     "messages per batch; 500 is the default"));
  c.batch_size = static_cast<std::size_t>(batch);
  NW_ASSIGN_OR_RETURN(c.acks, parse_acks(f.acks));
  c.idempotent = f.idempotent;
  return c;
}

LatencyStats latency_stats(std::vector<double> ms) {
  LatencyStats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) {
    auto i =
        static_cast<std::size_t>(std::ceil(q * static_cast<double>(ms.size())));
    return ms[std::min(ms.size() - 1, i == 0 ? 0 : i - 1)];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.p999 = rank(0.999);
  s.max = ms.back();
  return s;
}

double messages_per_second(const BenchReport& r) {
  return r.seconds > 0 ? static_cast<double>(r.messages) / r.seconds : 0;
}

double mb_per_second(const BenchReport& r) {
  return r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
}

std::string render_bench(const BenchReport& r) {
  std::string latency =
      "p50 " + fixed(r.latency.p50, 2) + "  p99 " + fixed(r.latency.p99, 2) +
      "  p999 " + fixed(r.latency.p999, 2) + "  max " + fixed(r.latency.max, 2);
  return render_fields({
      {"BENCH", r.kind + " " + r.topic},
      {"MESSAGES", std::to_string(r.messages) +
                       (r.failed > 0 ? " (" + std::to_string(r.failed) +
                                           " not acknowledged)"
                                     : "")},
      {"SECONDS", fixed(r.seconds, 2)},
      {"MESSAGES/S", fixed(messages_per_second(r), 0)},
      {"MB/S", fixed(mb_per_second(r), 2)},
      {r.kind == "produce" ? "BATCHES" : "FETCHES", std::to_string(r.requests)},
      {r.kind == "produce" ? "BATCH LATENCY MS" : "FETCH LATENCY MS", latency},
  });
}

std::string bench_json(const BenchReport& r) {
  nlohmann::json j = {
      {"kind", r.kind},
      {"topic", r.topic},
      {"messages", r.messages},
      {"bytes", r.bytes},
      {"seconds", round_to(r.seconds, 3)},
      {"messages_per_second", round_to(messages_per_second(r), 1)},
      {"mb_per_second", round_to(mb_per_second(r), 3)},
      {"requests", r.requests},
      {"failed", r.failed},
      {"latency_ms",
       {{"p50", round_to(r.latency.p50, 3)},
        {"p99", round_to(r.latency.p99, 3)},
        {"p999", round_to(r.latency.p999, 3)},
        {"max", round_to(r.latency.max, 3)}}},
  };
  return api::to_body(j);
}

}  // namespace nw::ctl
