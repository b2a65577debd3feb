#include "common/base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "common/base/strings.h"
#include "common/base/time.h"

namespace nw::log {
namespace {

struct State {
  std::atomic<Level> level{Level::info};
  std::atomic<Format> format{Format::text};
  std::mutex mu;
  int fd = STDERR_FILENO;  // guarded by mu
  std::string path;        // guarded by mu; empty: stderr
};

State& state() {
  static State* s = new State();  // never destroyed: logging in exit paths
  return *s;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

void append_text_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out += v;
    return;
  }
  out += '"';
  append_escaped(out, v);
  out += '"';
}

void append_json_string(std::string& out, std::string_view v) {
  out += '"';
  append_escaped(out, v);
  out += '"';
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), is_string(false) {
  value = format_double(v);
}

std::string_view to_string(Level level) {
  switch (level) {
    case Level::trace:
      return "trace";
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::off:
      return "off";
  }
  return "info";
}

std::optional<Level> parse_level(std::string_view name) {
  for (Level l : {Level::trace, Level::debug, Level::info, Level::warn,
                  Level::error, Level::off}) {
    if (to_string(l) == name) return l;
  }
  if (name == "warning") return Level::warn;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  return std::nullopt;
}

namespace {
Result<int> open_log_file(const std::string& path) {
  int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error(Code::io_error,
                 "open log file " + path + ": " + std::strerror(errno),
                 "check that its folder exists and is writable, or leave "
                 "log.file empty to log to stderr",
                 "log");
  }
  return fd;
}
}  // namespace

Status configure(Level level, Format format, const std::string& file) {
  State& s = state();
  int fd = STDERR_FILENO;
  if (!file.empty()) {
    NW_ASSIGN_OR_RETURN(fd, open_log_file(file));
  }
  std::lock_guard lock(s.mu);
  if (s.fd != STDERR_FILENO) ::close(s.fd);
  s.fd = fd;
  s.path = file;
  s.level = level;
  s.format = format;
  return ok_status();
}

Status reopen() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.path.empty()) return ok_status();
  NW_ASSIGN_OR_RETURN(int fd, open_log_file(s.path));
  ::close(s.fd);
  s.fd = fd;
  return ok_status();
}

void set_level(Level level) { state().level = level; }
Level level() { return state().level; }
bool enabled(Level l) {
  Level current = state().level;
  return current != Level::off && l >= current;
}

std::string format_line(Format format, std::string_view timestamp, Level level,
                        std::string_view component, std::string_view message,
                        Fields fields) {
  std::string out;
  out.reserve(128);
  if (format == Format::json) {
    out += "{\"ts\":";
    append_json_string(out, timestamp);
    out += ",\"level\":";
    append_json_string(out, to_string(level));
    out += ",\"component\":";
    append_json_string(out, component);
    out += ",\"msg\":";
    append_json_string(out, message);
    for (const Field& f : fields) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
      if (f.is_string) {
        append_json_string(out, f.value);
      } else {
        out += f.value;
      }
    }
    out += '}';
    return out;
  }
  out += timestamp;
  out += ' ';
  std::string lvl(to_string(level));
  for (char& c : lvl) c = static_cast<char>(c - 'a' + 'A');
  lvl.resize(5, ' ');
  out += lvl;
  out += ' ';
  out += component;
  out += ": ";
  // One entry, one line: a newline in a message must not start a new one.
  for (char c : message) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    append_text_value(out, f.value);
  }
  return out;
}

void write(Level lvl, std::string_view component, std::string_view message,
           Fields fields) {
  if (!enabled(lvl) || lvl == Level::off) return;
  State& s = state();
  std::string line = format_line(s.format, format_rfc3339_millis(wall_now()),
                                 lvl, component, message, fields);
  line += '\n';
  std::lock_guard lock(s.mu);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(s.fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a logging failure
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace nw::log
