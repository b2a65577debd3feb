#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

// Structured logging: a level, a component name, a message and key=value
// fields. Human text ("2026-11-22T10:00:00.123Z INFO  agent: started
// api=127.0.0.1:7070") or JSON lines, one object per line, to stderr or a
// file. Thread-safe: every call may come from any thread; one line is
// written with one write(2), so lines from threads never interleave.
namespace nw::log {

enum class Level : std::uint8_t { trace, debug, info, warn, error, off };
enum class Format : std::uint8_t { text, json };

std::string_view to_string(Level level);
std::optional<Level> parse_level(std::string_view name);
std::optional<Format> parse_format(std::string_view name);

// One key=value pair. Numbers and booleans stay unquoted in JSON.
struct Field {
  std::string key;
  std::string value;
  bool is_string = true;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  template <class I>
  requires std::integral<I> Field(std::string_view k, I v)
      : key(k), is_string(false) {
    if constexpr (std::is_same_v<I, bool>) {
      value = v ? "true" : "false";
    } else {
      value = std::to_string(v);
    }
  }
  Field(std::string_view k, double v);
};

using Fields = std::initializer_list<Field>;

// Where and how to write. `file` empty means stderr; otherwise the file is
// opened for appending (and created). Returns io_error if it cannot be.
Status configure(Level level, Format format, const std::string& file = {});
// Re-opens the log file (after logrotate moved it); no-op for stderr.
Status reopen();
void set_level(Level level);
Level level();
bool enabled(Level level);

void write(Level level, std::string_view component, std::string_view message,
           Fields fields = {});

// A component's logger: `Logger log("agent"); log.info("started", {...});`
class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}
  void trace(std::string_view m, Fields f = {}) const {
    write(Level::trace, component_, m, f);
  }
  void debug(std::string_view m, Fields f = {}) const {
    write(Level::debug, component_, m, f);
  }
  void info(std::string_view m, Fields f = {}) const {
    write(Level::info, component_, m, f);
  }
  void warn(std::string_view m, Fields f = {}) const {
    write(Level::warn, component_, m, f);
  }
  void error(std::string_view m, Fields f = {}) const {
    write(Level::error, component_, m, f);
  }

 private:
  std::string component_;
};

// Formats one line without writing it (for tests). No trailing newline.
std::string format_line(Format format, std::string_view timestamp, Level level,
                        std::string_view component, std::string_view message,
                        Fields fields);

}  // namespace nw::log
