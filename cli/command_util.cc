#include "cli/command_util.h"

#include "cli/cluster.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>

#include "common/base/strings.h"
#include "common/http/client.h"
#include "common/http/endpoint.h"

namespace nw::ctl {
namespace {

constexpr std::string_view kDomain = "cli";
constexpr size_t kMaxNameLength = 200;

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt_signal(int) {
  g_interrupted.store(true, std::memory_order_relaxed);
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian); Howard
// Hinnant's days_from_civil.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// Reads exactly n digits at *pos.
bool digits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

std::optional<std::int64_t> rfc3339_ms(std::string_view s) {
  size_t p = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, &p, 4, &y) || !expect(s, &p, '-') || !digits(s, &p, 2, &mo) ||
      !expect(s, &p, '-') || !digits(s, &p, 2, &d)) {
    return std::nullopt;
  }
  if (p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) {
    return std::nullopt;
  }
  ++p;
  if (!digits(s, &p, 2, &h) || !expect(s, &p, ':') || !digits(s, &p, 2, &mi) ||
      !expect(s, &p, ':') || !digits(s, &p, 2, &sec)) {
    return std::nullopt;
  }
  std::int64_t ms = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    size_t start = p;
    int scale = 100;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      ms += (s[p] - '0') * scale;  // digits past milliseconds are dropped
      scale /= 10;
      ++p;
    }
    if (p == start) return std::nullopt;
  }
  std::int64_t offset_min = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh = 0, om = 0;
    if (!digits(s, &p, 2, &oh) || !expect(s, &p, ':') ||
        !digits(s, &p, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = sign * (oh * 60 + om);
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (p != s.size()) return std::nullopt;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  int max_day = kDays[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0);
  if (d > max_day) return std::nullopt;
  if (sec == 60) sec = 59;  // a leap second: the last millisecond before it
  std::int64_t days =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + ms;
}

}  // namespace

std::string command_footer(const Cli& cli, const std::string& examples) {
  return examples + "\n\n" + cli.app->get_footer();
}

Error usage(std::string message, std::string hint) {
  return Error(Code::invalid_argument, std::move(message), std::move(hint),
               kDomain);
}

std::string single_quote(std::string_view text) {
  return "'" + std::string(text) + "'";
}

void print_text(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

Status check_name(std::string_view what, std::string_view name) {
  std::string example = what == "topic" ? "orders" : "billing";
  if (name.empty()) {
    return usage(std::string(what) + " name is empty",
                 "give a name such as " + example);
  }
  bool ok = name.size() <= kMaxNameLength;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      ok = false;
    }
  }
  if (!ok) {
    return usage(
        std::string(what) + " name " + single_quote(name) + " is not valid",
        "use 1 to 200 characters of A-Z a-z 0-9 . _ -, e.g. " + example);
  }
  return ok_status();
}

Result<std::int64_t> parse_int_flag(std::string_view flag,
                                    std::string_view text, std::int64_t min,
                                    std::int64_t max,
                                    std::string_view example) {
  std::string_view t = trim(text);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  std::string range = "a whole number from " + std::to_string(min) + " to " +
                      std::to_string(max);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) {
    return usage(std::string(flag) + ": expected " + range + ", got " +
                     single_quote(text),
                 std::string(example));
  }
  if (v < min || v > max) {
    return usage(std::string(flag) + ": " + std::string(t) +
                     " is out of range; expected " + range,
                 std::string(example));
  }
  return v;
}

Result<std::int64_t> parse_time_ms(std::string_view text, WallTime now,
                                   bool allow_relative) {
  std::string_view t = trim(text);
  if (allow_relative && !t.empty() && t[0] == '-') {
    auto d = parse_duration(t.substr(1));
    if (d.ok()) {
      auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        now.time_since_epoch())
                        .count();
      return now_ms - d.value().count();
    }
  }
  if (auto ms = rfc3339_ms(t)) return *ms;
  return usage(
      "expected a time such as 2026-11-22T10:00:00Z" +
          std::string(allow_relative ? " or -15m (15 minutes ago)" : "") +
          ", got " + single_quote(text),
      "write the time in RFC 3339 with a zone (Z or +02:00)");
}

Result<std::unique_ptr<http::Client>> new_client(const Globals& globals,
                                                 Duration timeout) {
  return new_client_at(globals, timeout, {});
}

ClientFactory leader_client_factory(const Globals& globals, Duration timeout) {
  return [&globals, timeout](const std::string& addr) {
    return new_client_at(globals, timeout, addr);
  };
}

// Keep-alive: these clients carry produce, fetch and bench requests, which
// retry on their own (idempotent producer ids, reads).
Result<std::unique_ptr<http::Client>> new_client_at(const Globals& globals,
                                                    Duration timeout,
                                                    const std::string& addr) {
  if (addr.empty()) return make_client(globals, globals.addr, timeout, true);
  NW_ASSIGN_OR_RETURN(std::vector<http::Endpoint> endpoints,
                      http::parse_endpoints(globals.addr));
  const bool tls = !endpoints.empty() && endpoints.front().scheme == "https";
  return make_client(globals, (tls ? "https://" : "") + addr, timeout, true);
}

Result<std::unique_ptr<http::Client>> new_request_client(const Globals& globals,
                                                         Duration timeout) {
  return make_client(globals, globals.addr, timeout, false);
}

namespace {
struct sigaction g_old_int;
struct sigaction g_old_term;
}  // namespace

Interrupt::Interrupt() {
  g_interrupted.store(false);
  struct sigaction sa {};
  sa.sa_handler = on_interrupt_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // no SA_RESTART: interrupt a blocking read
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
}

Interrupt::~Interrupt() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

bool Interrupt::requested() {
  return g_interrupted.load(std::memory_order_relaxed);
}
void Interrupt::request() { g_interrupted.store(true); }
void Interrupt::reset() { g_interrupted.store(false); }

std::thread spawn_thread(std::function<void()> fn) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  std::thread t(std::move(fn));  // inherits the blocked mask
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

std::string client_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string h = host[0] != '\0' ? host : "unknown";
  return "nwctl-" + h + "-" + std::to_string(::getpid());
}

int print_answer(Context& ctx, const std::string& body, std::string_view what,
                 const std::string& text) {
  if (ctx.output() == Output::json) {
    auto pretty = pretty_json(body, what);
    if (!pretty.ok()) return report(pretty.error());
    print_json(pretty.value());
  } else {
    print_text(text);
  }
  return 0;
}

}  // namespace nw::ctl
