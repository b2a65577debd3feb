#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/context.h"
#include "cli/records_client.h"
#include "common/base/result.h"
#include "common/base/time.h"
#include "common/records/record_batch.h"

// The parts of `nwctl consume` that do no network I/O: the flags, --from,
// and how records are printed. consume.cc runs the plain consumer,
// group_consumer.cc the consumer-group member. Threads: the functions are
// pure; RecordPrinter is shared by the fetch threads (it locks).
namespace nw::ctl {

// Where to start reading (--from).
struct StartFrom {
  enum class Kind { earliest, latest, offset, time };
  Kind kind = Kind::earliest;
  std::uint64_t offset = 0;  // for Kind::offset
  std::int64_t time_ms = 0;  // for Kind::time, ms since the epoch
};

// "earliest", "latest", an offset ("1200"), an RFC 3339 time, or a
// duration ago ("-15m"). invalid_argument naming --from otherwise.
Result<StartFrom> parse_from(std::string_view text, WallTime now);
// The `at` query of GET /v1/topics/{name}/offsets for a StartFrom that is
// not an offset: "earliest", "latest" or the milliseconds.
std::string offsets_query(const StartFrom& from);

// `nwctl consume` as typed ("" = not given).
struct ConsumeFlags {
  std::string topic;
  std::string group;
  std::string from = "earliest";
  std::string partition;
  std::string count;
  bool follow = false;
  std::string max_bytes = "1MiB";
  std::string strategy;         // with --group; "" = range
  std::string session_timeout;  // with --group; "" = 10s
};

struct ConsumeConfig {
  std::string topic;
  std::string group;  // "": no group
  StartFrom from;
  std::optional<std::uint32_t> partition;
  std::optional<std::uint64_t> count;  // -n
  bool follow = false;
  std::uint64_t max_bytes = 1 << 20;
  std::string strategy = "range";            // range | roundrobin (--group)
  std::uint64_t session_timeout_ms = 10000;  // 1s..5m (--group)
};

// invalid_argument for a bad name, --from, --partition, -n (at least 1),
// --max-bytes (1KiB..64MiB), --partition with --group (the group assigns
// the partitions), --strategy (range, roundrobin) or --session-timeout
// (1s..5m) without --group or out of range.
Result<ConsumeConfig> parse_consume_flags(const ConsumeFlags& flags,
                                          WallTime now);

// True when s is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF).
bool valid_utf8(std::string_view s);
// Standard base64 with padding (RFC 4648).
std::string base64_encode(std::string_view s);

// One line of `consume -o json` (no newline):
// {"partition":P,"offset":O,"timestamp":"...Z","key":K,"value":V,
//  "headers":[{"key":"k","value":"v"}]}
// key/value are null when absent; a key, value or header value that is not
// UTF-8 is base64 with "key_encoding"/"value_encoding": "base64" beside it.
std::string record_json(std::uint32_t partition, const records::Record& r);
// One line of table output: the value (empty for none), then '\n'.
std::string record_text(const records::Record& r);

// Prints records for the fetch threads, a batch at a time (lines of one
// batch are never interleaved with another's), stopping at the -n limit.
// Thread-safe.
class RecordPrinter {
 public:
  RecordPrinter(Output output, std::optional<std::uint64_t> limit)
      : output_(output), limit_(limit) {}
  // Prints records in order until the limit; returns how many it printed
  // (the rest are not to be counted as consumed).
  std::size_t print(std::uint32_t partition,
                    const std::vector<records::Record>& recs);
  bool limit_reached();
  std::uint64_t printed();

 private:
  const Output output_;
  const std::optional<std::uint64_t> limit_;
  std::mutex mu_;
  std::uint64_t printed_ = 0;  // GUARDED_BY(mu_)
};

// How long a fetch may long-poll: at most 1 s (so Ctrl-C and rebalances
// are noticed quickly) and well inside the client's timeout.
std::uint32_t long_poll_ms(Duration timeout);

// Runs `nwctl consume` with --group (group_consumer.cc).
int run_group_consume(Context& ctx, const Globals& globals,
                      const ConsumeConfig& config);

}  // namespace nw::ctl
