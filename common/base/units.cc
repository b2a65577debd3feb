#include "common/base/units.h"

#include <cctype>
#include <charconv>

namespace nw {
namespace {

Error bad_duration(std::string_view text) {
  return Error(Code::invalid_argument,
               "expected a duration such as 500ms, 10s, 1m30s or 2h, got \"" +
                   std::string(text) + "\"",
               {}, "units");
}

Error bad_size(std::string_view text) {
  return Error(Code::invalid_argument,
               "expected a size such as 4096, 64KiB, 16MiB or 1GiB, got \"" +
                   std::string(text) + "\"",
               {}, "units");
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration(0);
  if (text.empty()) return bad_duration(text);
  std::int64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    auto [p, ec] =
        std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (ec != std::errc() || n < 0) return bad_duration(text);
    i = static_cast<size_t>(p - text.data());
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
      ++i;
    std::string_view unit = text.substr(u, i - u);
    std::int64_t mult = 0;
    if (unit == "ms") {
      mult = 1;
    } else if (unit == "s") {
      mult = 1000;
    } else if (unit == "m") {
      mult = 60 * 1000;
    } else if (unit == "h") {
      mult = 3600 * 1000;
    } else if (unit == "d") {
      mult = 24 * 3600 * 1000;
    } else {
      return bad_duration(text);
    }
    if (n > (INT64_MAX - total_ms) / mult) return bad_duration(text);
    total_ms += n * mult;
  }
  return Duration(total_ms);
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  struct Unit {
    std::int64_t ms;
    const char* name;
  };
  for (Unit u : {Unit{24 * 3600 * 1000LL, "d"}, Unit{3600 * 1000LL, "h"},
                 Unit{60 * 1000LL, "m"}, Unit{1000, "s"}, Unit{1, "ms"}}) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) return bad_size(text);
  std::string_view unit = text.substr(static_cast<size_t>(p - text.data()));
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") {
    mult = 1;
  } else if (unit == "KiB") {
    mult = 1ULL << 10;
  } else if (unit == "MiB") {
    mult = 1ULL << 20;
  } else if (unit == "GiB") {
    mult = 1ULL << 30;
  } else if (unit == "TiB") {
    mult = 1ULL << 40;
  } else if (unit == "KB" || unit == "kB") {
    mult = 1000ULL;
  } else if (unit == "MB") {
    mult = 1000ULL * 1000;
  } else if (unit == "GB") {
    mult = 1000ULL * 1000 * 1000;
  } else if (unit == "TB") {
    mult = 1000ULL * 1000 * 1000 * 1000;
  } else {
    return bad_size(text);
  }
  if (n > UINT64_MAX / mult) return bad_size(text);
  return n * mult;
}

std::string format_size(std::uint64_t bytes) {
  struct Unit {
    std::uint64_t size;
    const char* name;
  };
  for (Unit u : {Unit{1ULL << 40, "TiB"}, Unit{1ULL << 30, "GiB"},
                 Unit{1ULL << 20, "MiB"}, Unit{1ULL << 10, "KiB"}}) {
    if (bytes >= u.size && bytes % u.size == 0) {
      return std::to_string(bytes / u.size) + u.name;
    }
  }
  return std::to_string(bytes);
}

}  // namespace nw
