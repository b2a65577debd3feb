// The pure half of `nwctl produce` (see produce.h).
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "cli/command_util.h"
#include "cli/produce.h"
#include "common/base/strings.h"

namespace nw::ctl {
namespace {

constexpr std::int64_t kMaxBatchSize = 100000;
constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

Result<std::vector<records::Header>> parse_headers(
    const std::vector<std::string>& args) {
  std::vector<records::Header> out;
  for (const std::string& arg : args) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return usage("--header: expected KEY=VALUE, got " + single_quote(arg),
                   "e.g. --header source=billing (repeat --header for "
                   "several)");
    }
    out.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
  }
  return out;
}

Result<ProduceConfig> parse_produce_flags(const ProduceFlags& f) {
  ProduceConfig c;
  NW_RETURN_IF_ERROR(check_name("topic", f.topic));
  c.topic = f.topic;
  c.file = f.file;
  if (f.key_given && !f.key_separator.empty()) {
    return usage("--key and --key-separator cannot be used together",
                 "--key gives every message the same key; --key-separator "
                 "reads each message's key from its line");
  }
  if (f.key_given) c.key = f.key;
  c.key_separator = f.key_separator;
  NW_ASSIGN_OR_RETURN(c.headers, parse_headers(f.headers));
  if (!f.partition.empty()) {
    NW_ASSIGN_OR_RETURN(
        std::int64_t p,
        parse_int_flag(
            "--partition", f.partition, 0, 1023,
            "see the partitions with: nwctl topic describe " + f.topic));
    c.partition = static_cast<std::uint32_t>(p);
  }
  NW_ASSIGN_OR_RETURN(c.acks, parse_acks(f.acks));
  NW_ASSIGN_OR_RETURN(
      std::int64_t batch,
      parse_int_flag("--batch-size", f.batch_size, 1, kMaxBatchSize,
                     "records per batch; 500 is the default"));
  c.batch_size = static_cast<std::size_t>(batch);
  c.idempotent = f.idempotent;
  return c;
}

Result<records::Record> line_to_record(std::string_view line,
                                       const ProduceConfig& config,
                                       std::uint64_t line_no) {
  records::Record r;
  r.headers = config.headers;
  if (!config.key_separator.empty()) {
    size_t at = line.find(config.key_separator);
    if (at == std::string_view::npos) {
      return usage("line " + std::to_string(line_no) +
                       " has no key separator " +
                       single_quote(config.key_separator),
                   "write every line as KEY" + config.key_separator +
                       "VALUE, or leave out --key-separator");
    }
    r.key = std::string(line.substr(0, at));
    r.value = std::string(line.substr(at + config.key_separator.size()));
  } else {
    r.key = config.key;
    r.value = std::string(line);
  }
  return r;
}

void LineSplitter::feed(std::string_view bytes) {
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

bool LineSplitter::next(std::string* line) {
  size_t nl = buf_.find('\n', pos_);
  if (nl == std::string::npos) return false;
  line->assign(buf_, pos_, nl - pos_);
  pos_ = nl + 1;
  return true;
}

bool LineSplitter::finish(std::string* line) {
  if (pos_ >= buf_.size()) return false;
  line->assign(buf_, pos_, std::string::npos);
  pos_ = buf_.size();
  return true;
}

bool LineSplitter::empty() const {
  return buf_.find('\n', pos_) == std::string::npos;
}

Result<bool> LineReader::next(std::string* line,
                              const std::function<void()>& idle) {
  while (true) {
    if (splitter_.next(line)) return true;
    if (eof_) return splitter_.finish(line);
    if (Interrupt::requested()) {
      eof_ = true;
      continue;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0 && idle) idle();  // would block
    char buf[kReadChunk];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;  // Interrupt is checked above
      return Error(
          Code::io_error,
          std::string("reading the input failed: ") + std::strerror(errno), {},
          "cli");
    }
    if (n == 0) {
      eof_ = true;
      continue;
    }
    splitter_.feed(std::string_view(buf, static_cast<size_t>(n)));
  }
}

Partitioner::Partitioner(std::uint32_t partitions,
                         std::optional<std::uint32_t> fixed,
                         std::uint32_t start)
    : partitions_(partitions == 0 ? 1 : partitions),
      fixed_(fixed),
      next_(start % partitions_) {}

std::uint32_t Partitioner::choose(const std::optional<std::string>& key) {
  if (fixed_) return *fixed_;
  if (key) return records::partition_for_key(*key, partitions_);
  std::uint32_t p = next_;
  next_ = (next_ + 1) % partitions_;
  return p;
}

std::int64_t new_producer_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  v &= 0x7fffffffffffffffULL;
  return v == 0 ? 1 : static_cast<std::int64_t>(v);
}

std::string ack_line(std::uint32_t partition,
                     std::optional<std::uint64_t> offset, std::uint64_t line) {
  return "{\"partition\": " + std::to_string(partition) + ", \"offset\": " +
         (offset ? std::to_string(*offset) : std::string("null")) +
         ", \"line\": " + std::to_string(line) + "}";
}

std::string not_acknowledged(std::uint64_t failed, std::uint64_t total,
                             const Error& reason) {
  return std::to_string(failed) + " of " + std::to_string(total) +
         (total == 1 ? " message" : " messages") +
         (failed == 1 ? " was" : " were") +
         " not acknowledged: " + reason.message;
}

}  // namespace nw::ctl
