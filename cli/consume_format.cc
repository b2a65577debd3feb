// The pure half of `nwctl consume` (see consume.h).
#include <algorithm>
#include <cstdio>

#include "cli/command_util.h"
#include "cli/consume.h"
#include "common/base/strings.h"
#include "common/base/units.h"

namespace nw::ctl {
namespace {

constexpr std::uint64_t kMinMaxBytes = 1024;
constexpr std::uint64_t kMaxMaxBytes = 64ULL << 20;

// "name":"text", "name":null, or for bytes that are not UTF-8
// "name":"<base64>","name_encoding":"base64".
void append_bytes(std::string& out, std::string_view name,
                  const std::optional<std::string>& v) {
  out += '"';
  out += name;
  out += "\":";
  if (!v) {
    out += "null";
    return;
  }
  out += '"';
  if (valid_utf8(*v)) {
    append_escaped(out, *v);
    out += '"';
  } else {
    out += base64_encode(*v);
    out += "\",\"";
    out += name;
    out += "_encoding\":\"base64\"";
  }
}

}  // namespace

Result<StartFrom> parse_from(std::string_view text, WallTime now) {
  std::string_view t = trim(text);
  StartFrom f;
  if (t == "earliest" || t == "beginning") {
    f.kind = StartFrom::Kind::earliest;
    return f;
  }
  if (t == "latest" || t == "end") {
    f.kind = StartFrom::Kind::latest;
    return f;
  }
  if (!t.empty() && std::all_of(t.begin(), t.end(),
                                [](char c) { return c >= '0' && c <= '9'; })) {
    auto n = parse_int_flag("--from", t, 0, INT64_MAX);
    if (!n.ok()) return n.error();
    f.kind = StartFrom::Kind::offset;
    f.offset = static_cast<std::uint64_t>(n.value());
    return f;
  }
  auto ms = parse_time_ms(t, now, true);
  if (!ms.ok()) {
    return usage(
        "--from: expected earliest, latest, an offset, a time "
        "(2026-11-22T10:00:00Z) or a duration ago (-15m), got " +
            single_quote(text),
        "e.g. --from -1h reads the last hour");
  }
  f.kind = StartFrom::Kind::time;
  f.time_ms = ms.value();
  return f;
}

std::string offsets_query(const StartFrom& from) {
  switch (from.kind) {
    case StartFrom::Kind::earliest:
      return "earliest";
    case StartFrom::Kind::latest:
      return "latest";
    case StartFrom::Kind::time:
      return std::to_string(from.time_ms);
    case StartFrom::Kind::offset:
      break;
  }
  return "earliest";
}

Result<ConsumeConfig> parse_consume_flags(const ConsumeFlags& f, WallTime now) {
  ConsumeConfig c;
  NW_RETURN_IF_ERROR(check_name("topic", f.topic));
  c.topic = f.topic;
  if (!f.group.empty()) NW_RETURN_IF_ERROR(check_name("group", f.group));
  c.group = f.group;
  NW_ASSIGN_OR_RETURN(c.from, parse_from(f.from, now));
  if (!f.partition.empty()) {
    if (!f.group.empty()) {
      return usage("--partition and --group cannot be used together",
                   "the group assigns partitions to its members; leave out "
                   "--partition, or --group to read one partition alone");
    }
    NW_ASSIGN_OR_RETURN(
        std::int64_t p,
        parse_int_flag(
            "--partition", f.partition, 0, 1023,
            "see the partitions with: nwctl topic describe " + f.topic));
    c.partition = static_cast<std::uint32_t>(p);
  }
  if (!f.count.empty()) {
    NW_ASSIGN_OR_RETURN(std::int64_t n,
                        parse_int_flag("-n", f.count, 1, INT64_MAX,
                                       "-n COUNT stops after COUNT messages"));
    c.count = static_cast<std::uint64_t>(n);
  }
  c.follow = f.follow;
  auto mb = parse_size(trim(f.max_bytes));
  if (!mb.ok() || mb.value() < kMinMaxBytes || mb.value() > kMaxMaxBytes) {
    return usage("--max-bytes: expected a size from 1KiB to 64MiB, got " +
                     single_quote(f.max_bytes),
                 "e.g. --max-bytes 4MiB (default 1MiB)");
  }
  c.max_bytes = mb.value();
  if ((!f.strategy.empty() || !f.session_timeout.empty()) && f.group.empty()) {
    return usage("--strategy and --session-timeout need --group",
                 "they choose how the group shares partitions among members");
  }
  if (!f.strategy.empty()) {
    if (f.strategy != "range" && f.strategy != "roundrobin") {
      return usage("--strategy: expected range or roundrobin, got " +
                       single_quote(f.strategy),
                   "a group uses the strategy of its first member");
    }
    c.strategy = f.strategy;
  }
  if (!f.session_timeout.empty()) {
    auto d = parse_duration(trim(f.session_timeout));
    const bool in_range = d.ok() && d.value() >= std::chrono::seconds(1) &&
                          d.value() <= std::chrono::minutes(5);
    if (!in_range) {
      return usage(
          "--session-timeout: expected a duration from 1s to 5m, "
          "got " +
              single_quote(f.session_timeout),
          "e.g. --session-timeout 30s (default 10s)");
    }
    c.session_timeout_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(d.value())
            .count());
  }
  return c;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte, C0/C1 overlong lead, or > F4
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string base64_encode(std::string_view s) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k]));
  };
  for (; i + 3 <= s.size(); i += 3) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = s.size() - i; rest > 0) {
    std::uint32_t v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string record_json(std::uint32_t partition, const records::Record& r) {
  std::string out = "{\"partition\":";
  out += std::to_string(partition);
  out += ",\"offset\":";
  out += std::to_string(r.offset);
  out += ",\"timestamp\":\"";
  out += format_rfc3339_millis(
      WallTime(std::chrono::milliseconds(r.timestamp_ms)));
  out += "\",";
  append_bytes(out, "key", r.key);
  out += ',';
  append_bytes(out, "value", r.value);
  out += ",\"headers\":[";
  for (size_t i = 0; i < r.headers.size(); ++i) {
    const records::Header& h = r.headers[i];
    if (i > 0) out += ',';
    out += '{';
    append_bytes(out, "key", h.key);
    out += ',';
    append_bytes(out, "value", h.value);
    out += '}';
  }
  out += "]}";
  return out;
}

std::string record_text(const records::Record& r) {
  std::string out = r.value.value_or("");
  out += '\n';
  return out;
}

std::size_t RecordPrinter::print(std::uint32_t partition,
                                 const std::vector<records::Record>& recs) {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = recs.size();
  if (limit_) {
    n = static_cast<std::size_t>(
        std::min<std::uint64_t>(n, *limit_ - std::min(*limit_, printed_)));
  }
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (output_ == Output::json) {
      out += record_json(partition, recs[i]);
      out += '\n';
    } else {
      out += record_text(recs[i]);
    }
  }
  print_text(out);
  printed_ += n;
  return n;
}

bool RecordPrinter::limit_reached() {
  std::lock_guard<std::mutex> lock(mu_);
  return limit_ && printed_ >= *limit_;
}

std::uint64_t RecordPrinter::printed() {
  std::lock_guard<std::mutex> lock(mu_);
  return printed_;
}

std::uint32_t long_poll_ms(Duration timeout) {
  auto half = static_cast<std::uint32_t>(
      std::max<std::int64_t>(0, timeout.count() / 2));
  return std::min<std::uint32_t>(1000, half);
}

}  // namespace nw::ctl
