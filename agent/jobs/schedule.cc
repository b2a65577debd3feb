#include "agent/jobs/schedule.h"

#include <bit>
#include <cctype>
#include <charconv>
#include <utility>

namespace nw::jobs {
namespace {

constexpr std::string_view kDomain = "jobs";
// WallTime (nanoseconds in an int64) ends in April 2262.
constexpr int kMaxYear = 2261;
constexpr std::int64_t kMaxSeconds = INT64_MAX / 1'000'000'000;

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR",
                                       "MAY", "JUN", "JUL", "AUG",
                                       "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED",
                                     "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // spellings of min, min+1, ...; or null
  int name_count;
  const char* name_help;  // "JAN-DEC"
};

constexpr FieldSpec kSpecs[6] = {
    {"second", 0, 59, nullptr, 0, nullptr},
    {"minute", 0, 59, nullptr, 0, nullptr},
    {"hour", 0, 23, nullptr, 0, nullptr},
    {"day-of-month", 1, 31, nullptr, 0, nullptr},
    {"month", 1, 12, kMonthNames, 12, "JAN-DEC"},
    {"day-of-week", 0, 7, kDayNames, 7, "SUN-SAT"},
};

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Error parse_error(std::string_view expr, const std::string& detail) {
  return Error(Code::invalid_argument,
               "schedule " + quoted(expr) + ": " + detail,
               "expected 6 cron fields (second minute hour day-of-month "
               "month day-of-week), 5 (without seconds), @every <duration>, "
               "@hourly, @daily, @weekly, @monthly or @yearly",
               kDomain);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == s.npos ? s.npos : end - start));
    if (end == s.npos) return out;
    start = end + 1;
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Parses one cron field into a bit set; errors are the detail after
// "field N (name): ".
class FieldParser {
 public:
  explicit FieldParser(const FieldSpec& spec) : spec_(spec) {}

  bool parse(std::string_view text, std::uint64_t* bits) {
    *bits = 0;
    for (std::string_view item : split(text, ',')) {
      if (item.empty()) return fail("empty item in list " + quoted(text));
      std::vector<std::string_view> parts = split(item, '/');
      if (parts.size() > 2) return fail("bad step in " + quoted(item));
      std::string_view range = parts[0];
      int lo = spec_.min, hi = spec_.max, step = 1;
      if (range != "*") {
        size_t dash = range.find('-');
        if (!value(range.substr(0, dash), &lo)) return false;
        if (dash != range.npos) {
          if (!value(range.substr(dash + 1), &hi)) return false;
          // "FRI-SUN": Sunday as the end of a weekday range is 7.
          if (spec_.max == 7 && hi == 0 && lo > 0) hi = 7;
          if (hi < lo) {
            return fail("range " + quoted(range) + " is backwards");
          }
        } else if (parts.size() == 1) {
          hi = lo;
        }
      }
      if (parts.size() == 2) {
        if (!number(parts[1], &step)) return false;
        if (step < 1 || step > spec_.max) {
          return fail("step " + std::to_string(step) + " is out of range 1-" +
                      std::to_string(spec_.max));
        }
      }
      for (int v = lo; v <= hi; v += step) *bits |= std::uint64_t{1} << v;
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }
  bool number(std::string_view s, int* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
      return fail(quoted(s) + " is not a number");
    }
    return true;
  }
  bool value(std::string_view s, int* out) {
    if (spec_.names != nullptr && !s.empty() &&
        std::isalpha(static_cast<unsigned char>(s[0]))) {
      for (int i = 0; i < spec_.name_count; ++i) {
        if (iequals(s, spec_.names[i])) {
          *out = spec_.min + i;
          return true;
        }
      }
      return fail(quoted(s) + " is not a " + spec_.name + " name (" +
                  spec_.name_help + ")");
    }
    if (!number(s, out)) return false;
    if (*out < spec_.min || *out > spec_.max) {
      return fail(std::to_string(*out) + " is out of range " +
                  std::to_string(spec_.min) + "-" + std::to_string(spec_.max));
    }
    return true;
  }

  const FieldSpec& spec_;
  std::string error_;
};

std::uint64_t range_bits(int lo, int hi) {
  std::uint64_t bits = 0;
  for (int v = lo; v <= hi; ++v) bits |= std::uint64_t{1} << v;
  return bits;
}

// The canonical spelling of a field's bit set (see Schedule::to_string).
std::string encode_field(std::uint64_t bits, int min, int max) {
  if (bits == range_bits(min, max)) return "*";
  std::vector<int> v;
  for (int i = min; i <= max; ++i) {
    if (bits >> i & 1) v.push_back(i);
  }
  if (v.size() >= 3) {
    int step = v[1] - v[0];
    bool progression = step > 1;
    for (size_t i = 2; progression && i < v.size(); ++i) {
      progression = v[i] - v[i - 1] == step;
    }
    if (progression) {
      std::string s = "/" + std::to_string(step);
      if (v.front() == min && v.back() + step > max) return "*" + s;
      return std::to_string(v.front()) + "-" + std::to_string(v.back()) + s;
    }
  }
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(v[i]);
    if (j > i) out += "-" + std::to_string(v[j]);
    i = j + 1;
  }
  return out;
}

struct Shorthand {
  const char* name;
  const char* cron;
};
constexpr Shorthand kShorthands[] = {
    {"@hourly", "0 0 * * * *"},   {"@daily", "0 0 0 * * *"},
    {"@midnight", "0 0 0 * * *"}, {"@weekly", "0 0 0 * * 0"},
    {"@monthly", "0 0 0 1 * *"},  {"@yearly", "0 0 0 1 1 *"},
    {"@annually", "0 0 0 1 1 *"},
};

std::int64_t nanos(WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

WallTime from_nanos(std::int64_t ns) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(
      std::chrono::nanoseconds(ns)));
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view expr,
                                 std::string_view time_zone) {
  NW_ASSIGN_OR_RETURN(auto zone, load_time_zone(time_zone));
  return parse(expr, std::move(zone));
}

Result<Schedule> Schedule::parse(std::string_view expr,
                                 std::shared_ptr<const TimeZone> zone) {
  NW_ASSERT(zone != nullptr, "Schedule::parse without a zone");
  Schedule s;
  s.zone_ = std::move(zone);
  std::string_view text = trim(expr);
  if (text.empty()) return parse_error(expr, "empty schedule");

  if (text.front() == '@') {
    size_t sp = text.find_first_of(" \t");
    std::string_view word = text.substr(0, sp);
    if (iequals(word, "@every")) {
      std::string_view arg =
          sp == text.npos ? std::string_view() : trim(text.substr(sp));
      if (arg.empty()) {
        return parse_error(expr, "@every needs a duration such as 10s");
      }
      auto d = parse_duration(arg);
      if (!d.ok()) return parse_error(expr, "@every: " + d.error().message);
      if (*d < std::chrono::seconds(1)) {
        return parse_error(expr, "@every " + std::string(arg) +
                                     ": the interval must be at least 1s");
      }
      s.kind_ = Kind::every;
      s.every_ = *d;
      return s;
    }
    for (const Shorthand& sh : kShorthands) {
      if (iequals(text, sh.name)) return parse(sh.cron, s.zone_);
    }
    return parse_error(expr, "unknown shorthand " + quoted(text));
  }

  std::vector<std::string_view> fields;
  for (size_t i = 0; i < text.size();) {
    size_t j = i;
    while (j < text.size() &&
           !std::isspace(static_cast<unsigned char>(text[j]))) {
      ++j;
    }
    fields.push_back(text.substr(i, j - i));
    while (j < text.size() &&
           std::isspace(static_cast<unsigned char>(text[j]))) {
      ++j;
    }
    i = j;
  }
  if (fields.size() != 6 && fields.size() != 5) {
    return parse_error(
        expr, "expected 6 or 5 fields, got " + std::to_string(fields.size()));
  }
  const size_t skip = 6 - fields.size();  // 5 fields: no seconds
  std::uint64_t bits[6] = {1, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& spec = kSpecs[i + skip];
    FieldParser p(spec);
    if (!p.parse(fields[i], &bits[i + skip])) {
      return parse_error(expr, "field " + std::to_string(i + 1) + " (" +
                                   spec.name + "): " + p.error());
    }
  }
  if (bits[5] >> 7 & 1) bits[5] = (bits[5] & 0x7F) | 1;  // 7 is Sunday
  Fields& f = s.f_;
  f.second = bits[0];
  f.minute = bits[1];
  f.hour = static_cast<std::uint32_t>(bits[2]);
  f.dom = static_cast<std::uint32_t>(bits[3]);
  f.month = static_cast<std::uint32_t>(bits[4]);
  f.dow = static_cast<std::uint32_t>(bits[5]);
  f.dom_restricted = f.dom != range_bits(1, 31);
  f.dow_restricted = f.dow != range_bits(0, 6);
  if (f.dom_restricted && !f.dow_restricted) {
    bool possible = false;
    for (int m = 1; m <= 12; ++m) {
      int days = m == 2 ? 29 : days_in_month(2001, m);
      if ((f.month >> m & 1) && (f.dom & range_bits(1, days))) {
        possible = true;
      }
    }
    if (!possible) {
      return parse_error(expr,
                         "the day-of-month never occurs in the selected "
                         "months (such as 30 February)");
    }
  }
  return s;
}

std::string Schedule::to_string() const {
  if (kind_ == Kind::every) return "@every " + format_duration(every_);
  return encode_field(f_.second, 0, 59) + " " + encode_field(f_.minute, 0, 59) +
         " " + encode_field(f_.hour, 0, 23) + " " +
         encode_field(f_.dom, 1, 31) + " " + encode_field(f_.month, 1, 12) +
         " " + encode_field(f_.dow, 0, 6);
}

std::uint32_t Schedule::day_mask(int year, int month) const {
  const std::uint32_t valid =
      static_cast<std::uint32_t>(range_bits(1, days_in_month(year, month)));
  if (!f_.dow_restricted) return f_.dom & valid;
  // Bits 0, 7, 14, 21, 28: one weekday, shifted to its first day.
  constexpr std::uint32_t kWeekly = 0x10204081;
  const int wd1 = weekday_from_days(days_from_civil(year, month, 1));
  std::uint32_t by_dow = 0;
  for (int w = 0; w < 7; ++w) {
    if (f_.dow >> w & 1) by_dow |= kWeekly << (1 + (w - wd1 + 7) % 7);
  }
  by_dow &= valid;
  if (f_.dom_restricted) return (f_.dom & valid) | by_dow;
  return by_dow;
}

std::optional<std::int64_t> Schedule::next_local_match(
    std::int64_t local) const {
  const CivilTime c = civil_from_seconds(local);
  int y = c.year, mo = c.month, d = c.day, h = c.hour, mi = c.minute,
      s = c.second;
  auto next_month = [&] {
    d = 1;
    h = mi = s = 0;
    if (++mo > 12) {
      mo = 1;
      ++y;
    }
  };
  auto next_day = [&] {
    h = mi = s = 0;
    if (++d > days_in_month(y, mo)) next_month();
  };
  auto next_hour = [&] {
    mi = s = 0;
    if (++h > 23) next_day();
  };
  auto next_minute = [&] {
    s = 0;
    if (++mi > 59) next_hour();
  };
  for (;;) {
    if (y > kMaxYear) return std::nullopt;
    const std::uint32_t months = f_.month >> mo << mo;
    if (months == 0) {
      mo = 12;
      next_month();
      continue;
    }
    if (const int m = std::countr_zero(months); m != mo) {
      mo = m;
      d = 1;
      h = mi = s = 0;
    }
    const std::uint32_t days = day_mask(y, mo) >> d << d;
    if (days == 0) {
      next_month();
      continue;
    }
    if (const int nd = std::countr_zero(days); nd != d) {
      d = nd;
      h = mi = s = 0;
    }
    const std::uint32_t hours = f_.hour >> h << h;
    if (hours == 0) {
      next_day();
      continue;
    }
    if (const int nh = std::countr_zero(hours); nh != h) {
      h = nh;
      mi = s = 0;
    }
    const std::uint64_t minutes = f_.minute >> mi << mi;
    if (minutes == 0) {
      next_hour();
      continue;
    }
    if (const int nm = std::countr_zero(minutes); nm != mi) {
      mi = nm;
      s = 0;
    }
    const std::uint64_t seconds = f_.second >> s << s;
    if (seconds == 0) {
      next_minute();
      continue;
    }
    s = std::countr_zero(seconds);
    return seconds_from_civil(CivilTime{y, mo, d, h, mi, s});
  }
}

std::optional<WallTime> Schedule::next_after(WallTime t) const {
  if (kind_ == Kind::every) {
    const std::int64_t p =
        std::chrono::duration_cast<std::chrono::nanoseconds>(every_).count();
    const std::int64_t ph =
        std::chrono::duration_cast<std::chrono::nanoseconds>(phase_).count();
    const std::int64_t k = floor_div(nanos(t) - ph, p) + 1;
    if (k > (INT64_MAX - ph) / p) return std::nullopt;
    return from_nanos(k * p + ph);
  }
  const std::int64_t ts =
      std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  if (ts >= kMaxSeconds - 2 * 86400) return std::nullopt;
  std::int64_t local = ts + zone_->offset_at(ts) + 1;
  // More than one round only around DST changes: a local time whose
  // (first) instant is not after t is skipped.
  for (int round = 0; round < 1000; ++round) {
    std::optional<std::int64_t> m = next_local_match(local);
    if (!m) return std::nullopt;
    const std::int64_t at = zone_->from_local_seconds(*m);
    if (at > ts) {
      if (at >= kMaxSeconds) return std::nullopt;
      return WallTime(std::chrono::seconds(at));
    }
    local = *m + 1;
  }
  return std::nullopt;
}

Schedule Schedule::spread_by(std::string_view key) const {
  Schedule out = *this;
  if (kind_ != Kind::every) return out;
  // FNV-1a: stable across builds and machines, unlike std::hash.
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(every_).count();
  out.phase_ = std::chrono::milliseconds(
      static_cast<std::int64_t>(h % static_cast<std::uint64_t>(ms)));
  return out;
}

std::vector<WallTime> Schedule::slots_between(WallTime from, WallTime to,
                                              std::size_t max) const {
  std::vector<WallTime> out;
  WallTime t = from;
  while (out.size() < max) {
    std::optional<WallTime> next = next_after(t);
    if (!next || *next > to) break;
    out.push_back(*next);
    t = *next;
  }
  return out;
}

}  // namespace nw::jobs
