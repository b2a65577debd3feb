#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/records_client.h"
#include "common/base/result.h"
#include "common/records/record_batch.h"

// The parts of `nwctl produce` that do no network I/O: the flags and their
// checks, splitting the input into lines and lines into key and value, and
// choosing a partition. produce.cc runs them with the Producer
// (producer.h). Threads: none; LineReader belongs to one thread.
namespace nw::ctl {

// `nwctl produce` as typed ("" = not given).
struct ProduceFlags {
  std::string topic;
  std::string file;
  std::string key;
  bool key_given = false;  // --key was given (possibly as "")
  std::string key_separator;
  std::vector<std::string> headers;
  std::string partition;
  std::string acks = "all";
  std::string batch_size = "500";
  bool idempotent = true;
};

// The checked flags.
struct ProduceConfig {
  std::string topic;
  std::string file;                // "" or "-": standard input
  std::optional<std::string> key;  // --key: every message's key
  std::string key_separator;       // "": lines are values only
  std::vector<records::Header> headers;
  std::optional<std::uint32_t> partition;
  Acks acks = Acks::all;
  std::size_t batch_size = 500;
  bool idempotent = true;
};

// invalid_argument (exit 2) for a bad topic name, a bad --acks, both --key
// and --key-separator, a header without '=', --batch-size outside
// 1..100000, a negative --partition.
Result<ProduceConfig> parse_produce_flags(const ProduceFlags& flags);

// --header k=v (repeatable). "k=" is an empty value; a missing '=' or an
// empty key is invalid_argument.
Result<std::vector<records::Header>> parse_headers(
    const std::vector<std::string>& args);

// One input line as a record: with a key separator, the key is what comes
// before the first separator and the value what follows it (a line without
// the separator is invalid_argument naming line_no); else the value is the
// whole line and the key is --key (or none). Headers are the config's; the
// timestamp is left 0 for the caller.
Result<records::Record> line_to_record(std::string_view line,
                                       const ProduceConfig& config,
                                       std::uint64_t line_no);

// Cuts a byte stream into lines at '\n' (the '\n' is dropped, everything
// else, '\r' included, is kept). A last line without '\n' is a line; an
// empty input has none.
class LineSplitter {
 public:
  void feed(std::string_view bytes);
  // The next complete line, if one is buffered.
  bool next(std::string* line);
  // At the end of the input: the unterminated last line, if any.
  bool finish(std::string* line);
  // True when no complete line is buffered.
  bool empty() const;

 private:
  std::string buf_;
  std::size_t pos_ = 0;  // start of the first line not yet returned
};

// Reads lines from a file descriptor (stdin or --file). Before a read that
// would block (no buffered line and nothing to read right now), calls
// `idle`, so a producer sends what it has while a person is typing.
// A signal that interrupts the read (Interrupt) ends the input.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // True and the line; false at the end of the input; io_error when the
  // read fails.
  Result<bool> next(std::string* line, const std::function<void()>& idle);

 private:
  int fd_;
  bool eof_ = false;
  LineSplitter splitter_;
};

// Chooses each record's partition: --partition when given, else
// records::partition_for_key for a keyed record, else round robin starting
// at `start` (nwctl picks it at random, so short runs spread out).
class Partitioner {
 public:
  Partitioner(std::uint32_t partitions, std::optional<std::uint32_t> fixed,
              std::uint32_t start = 0);
  std::uint32_t choose(const std::optional<std::string>& key);

 private:
  std::uint32_t partitions_;
  std::optional<std::uint32_t> fixed_;
  std::uint32_t next_;
};

// A random producer id in [1, 2^63 - 1].
std::int64_t new_producer_id();

// {"partition": P, "offset": O, "line": N} (offset null for acks=none; N
// the message's 1-based input line): one line of `produce -o json`.
std::string ack_line(std::uint32_t partition,
                     std::optional<std::uint64_t> offset, std::uint64_t line);

// "3 of 1000 messages were not acknowledged: <reason>".
std::string not_acknowledged(std::uint64_t failed, std::uint64_t total,
                             const Error& reason);

}  // namespace nw::ctl
