#include "common/base/time.h"

#include <ctime>

namespace nw {

std::string format_rfc3339_millis(WallTime t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

Result<WallTime> parse_rfc3339(std::string_view text) {
  auto bad = [&] {
    // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict)
    // about "literal" + std::string.
    std::string message = "\"";
    message.append(text);
    message.append("\" is not an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)");
    return Error(Code::invalid_argument, std::move(message), {}, "time");
  };
  std::size_t i = 0;
  auto digits = [&](std::size_t n, int* out) {
    if (i + n > text.size()) return false;
    int v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const char c = text[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    i += n;
    return true;
  };
  auto expect = [&](std::string_view chars) {
    if (i < text.size() && chars.find(text[i]) != std::string_view::npos) {
      ++i;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(4, &year) || !expect("-") || !digits(2, &month) || !expect("-") ||
      !digits(2, &day) || !expect("Tt ") || !digits(2, &hour) || !expect(":") ||
      !digits(2, &minute) || !expect(":") || !digits(2, &second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return bad();
  }
  std::int64_t nanos = 0;
  if (expect(".")) {
    std::int64_t scale = 100000000;
    std::size_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      nanos += (text[i] - '0') * scale;
      scale /= 10;
      ++i;
      ++n;
    }
    if (n == 0) return bad();
  }
  std::int64_t offset_s = 0;
  if (!expect("Zz")) {
    const bool plus = i < text.size() && text[i] == '+';
    if (!expect("+-")) return bad();
    int oh = 0, om = 0;
    if (!digits(2, &oh) || !expect(":") || !digits(2, &om)) return bad();
    offset_s = (oh * 3600 + om * 60) * (plus ? 1 : -1);
  }
  if (i != text.size()) return bad();
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month),
                                            static_cast<unsigned>(day));
  const std::int64_t secs =
      days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
}

double unix_seconds(WallTime t) {
  using namespace std::chrono;
  return duration<double>(t.time_since_epoch()).count();
}

}  // namespace nw
