#include "agent/jobs/time_zone.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace nw::jobs {
namespace {

constexpr std::string_view kDomain = "jobs";
constexpr int kExtendToYear = 2100;
// Real zone files are a few KiB; anything much larger is not one.
constexpr off_t kMaxZoneFileSize = 1 << 20;

// --- POSIX TZ strings (RFC 8536 section 3.3 extensions included) ---------

class TzParser {
 public:
  explicit TzParser(std::string_view s) : s_(s) {}

  bool parse(TimeZone::PosixRule* r) {
    if (!name()) return false;
    int off = 0;
    if (!hms(&off, 24)) return false;
    r->std_offset = -off;
    if (done()) return true;
    if (!name()) return false;
    r->has_dst = true;
    r->dst_offset = r->std_offset + 3600;
    if (!done() && peek() != ',') {
      if (!hms(&off, 24)) return false;
      r->dst_offset = -off;
    }
    if (done()) {  // no rule: the US rule, as glibc assumes
      r->start = {'M', 3, 2, 0};
      r->end = {'M', 11, 1, 0};
      return true;
    }
    if (!eat(',') || !date(&r->start)) return false;
    if (eat('/') && !hms(&r->start_time, 167)) return false;
    if (!eat(',') || !date(&r->end)) return false;
    if (eat('/') && !hms(&r->end_time, 167)) return false;
    return done();
  }

 private:
  bool done() const { return i_ == s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  bool name() {
    size_t start = i_;
    if (eat('<')) {
      while (!done() && peek() != '>') ++i_;
      if (!eat('>')) return false;
      return i_ - start >= 3;
    }
    while (!done() && std::isalpha(static_cast<unsigned char>(peek()))) ++i_;
    return i_ - start >= 3;
  }
  bool number(int* out, int max) {
    size_t start = i_;
    int v = 0;
    while (!done() && std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (peek() - '0');
      if (v > max) return false;
      ++i_;
    }
    *out = v;
    return i_ > start;
  }
  // [+-]hh[:mm[:ss]] in seconds.
  bool hms(int* out, int max_hours) {
    int sign = 1;
    if (eat('-')) {
      sign = -1;
    } else {
      eat('+');
    }
    int h = 0, m = 0, sec = 0;
    if (!number(&h, max_hours)) return false;
    if (eat(':')) {
      if (!number(&m, 59)) return false;
      if (eat(':') && !number(&sec, 59)) return false;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
  bool date(TimeZone::PosixRule::Date* d) {
    if (eat('J')) {
      d->kind = 'J';
      return number(&d->day, 365) && d->day >= 1;
    }
    if (eat('M')) {
      d->kind = 'M';
      return number(&d->month, 12) && d->month >= 1 && eat('.') &&
             number(&d->week, 5) && d->week >= 1 && eat('.') &&
             number(&d->day, 6);
    }
    d->kind = 'N';
    return number(&d->day, 365);
  }

  std::string_view s_;
  size_t i_ = 0;
};

// Days since the epoch of a rule date in `year`.
std::int64_t rule_day(const TimeZone::PosixRule::Date& d, int year) {
  std::int64_t jan1 = days_from_civil(year, 1, 1);
  if (d.kind == 'J') {
    return jan1 + d.day - 1 + ((is_leap_year(year) && d.day >= 60) ? 1 : 0);
  }
  if (d.kind == 'N') return jan1 + d.day;
  std::int64_t first = days_from_civil(year, d.month, 1);
  int wd1 = weekday_from_days(first);
  int day = 1 + (d.day - wd1 + 7) % 7 + (d.week - 1) * 7;
  while (day > days_in_month(year, d.month)) day -= 7;
  return first + day - 1;
}

struct Change {
  std::int64_t at;
  int offset;
};

// The two transitions of a DST rule in `year`, in time order.
void rule_changes(const TimeZone::PosixRule& r, int year, Change out[2]) {
  Change a{rule_day(r.start, year) * 86400 + r.start_time - r.std_offset,
           r.dst_offset};
  Change b{rule_day(r.end, year) * 86400 + r.end_time - r.dst_offset,
           r.std_offset};
  if (b.at < a.at) std::swap(a, b);
  out[0] = a;
  out[1] = b;
}

// --- TZif ----------------------------------------------------------------

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool has(size_t n) const { return b_.size() - i_ >= n; }
  std::int64_t be(size_t n) {
    std::uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) {
      v = (v << 8) | static_cast<unsigned char>(b_[i_ + k]);
    }
    i_ += n;
    if (n == 4) return static_cast<std::int32_t>(v);
    return static_cast<std::int64_t>(v);
  }
  std::string_view take(size_t n) {
    std::string_view s = b_.substr(i_, n);
    i_ += n;
    return s;
  }
  void skip(size_t n) { i_ += n; }
  size_t pos() const { return i_; }
  std::string_view rest() const { return b_.substr(i_); }

 private:
  std::string_view b_;
  size_t i_ = 0;
};

struct Header {
  char version = 0;
  std::int64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
};

bool read_header(Reader* r, Header* h) {
  if (!r->has(44)) return false;
  if (r->take(4) != "TZif") return false;
  h->version = r->take(1)[0];
  r->skip(15);
  h->isut = r->be(4);
  h->isstd = r->be(4);
  h->leap = r->be(4);
  h->time = r->be(4);
  h->type = r->be(4);
  h->chars = r->be(4);
  return h->isut >= 0 && h->isstd >= 0 && h->leap >= 0 && h->time >= 0 &&
         h->type >= 1 && h->type <= 256 && h->chars >= 0;
}

size_t block_size(const Header& h, size_t time_size) {
  return static_cast<size_t>(h.time) * (time_size + 1) +
         static_cast<size_t>(h.type) * 6 + static_cast<size_t>(h.chars) +
         static_cast<size_t>(h.leap) * (time_size + 4) +
         static_cast<size_t>(h.isstd) + static_cast<size_t>(h.isut);
}

bool valid_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' &&
          c != '-' && c != '+' && c != '.') {
        return false;
      }
    }
    start = end + 1;
  }
  return true;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

// --- TimeZone ------------------------------------------------------------

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> kUtc = [] {
    std::shared_ptr<TimeZone> z(new TimeZone());
    z->name_ = "UTC";
    return z;
  }();
  return kUtc;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::from_posix(
    std::string name, std::string_view tz) {
  PosixRule rule;
  if (!TzParser(tz).parse(&rule)) {
    return Error(
        Code::invalid_argument,
        "time zone " + quoted(name) + ": bad POSIX TZ string " + quoted(tz),
        "use a string such as CET-1CEST,M3.5.0,M10.5.0/3", kDomain);
  }
  std::shared_ptr<TimeZone> z(new TimeZone());
  z->name_ = std::move(name);
  z->initial_offset_ = rule.std_offset;
  z->rule_ = rule;
  z->rule_from_ = INT64_MIN;
  z->extend_with_rule();
  return std::shared_ptr<const TimeZone>(std::move(z));
}

Result<std::shared_ptr<const TimeZone>> TimeZone::from_tzif(
    std::string name, std::string_view bytes) {
  auto bad = [&](std::string_view what) {
    return Error(
        Code::corruption,
        "time zone " + quoted(name) + ": bad TZif data: " + std::string(what),
        "reinstall the tzdata package", kDomain);
  };
  Reader r(bytes);
  Header h;
  if (!read_header(&r, &h)) return bad("bad header");
  size_t time_size = 4;
  if (h.version >= '2') {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    size_t n = block_size(h, 4);
    if (!r.has(n)) return bad("truncated v1 data block");
    r.skip(n);
    if (!read_header(&r, &h)) return bad("bad v2 header");
    time_size = 8;
  }
  if (!r.has(block_size(h, time_size))) return bad("truncated data block");
  if (h.leap != 0) {
    return bad("leap-second zones (right/...) are not supported");
  }
  std::shared_ptr<TimeZone> z(new TimeZone());
  z->name_ = name;
  std::vector<std::int64_t> times(static_cast<size_t>(h.time));
  for (auto& t : times) t = r.be(time_size);
  std::vector<int> idx(times.size());
  for (auto& i : idx) {
    i = static_cast<int>(r.be(1));
    if (i >= h.type) return bad("transition type out of range");
  }
  std::vector<int> type_offsets(static_cast<size_t>(h.type));
  for (auto& o : type_offsets) {
    std::int64_t off = r.be(4);
    r.skip(2);  // isdst, abbreviation index
    if (off < -89999 || off > 93599) return bad("UTC offset out of range");
    o = static_cast<int>(off);
  }
  r.skip(static_cast<size_t>(h.chars + h.isstd + h.isut));
  for (size_t i = 1; i < times.size(); ++i) {
    if (times[i] <= times[i - 1]) return bad("transitions out of order");
  }
  z->initial_offset_ = type_offsets[0];
  z->transitions_ = std::move(times);
  for (int i : idx) z->offsets_.push_back(type_offsets[i]);

  if (time_size == 8) {
    std::string_view rest = r.rest();
    if (rest.size() < 2 || rest.front() != '\n' || rest.back() != '\n') {
      return bad("missing footer");
    }
    std::string_view tz = rest.substr(1, rest.size() - 2);
    if (!tz.empty()) {
      PosixRule rule;
      if (!TzParser(tz).parse(&rule)) {
        return bad("bad footer TZ string " + quoted(tz));
      }
      z->rule_ = rule;
      z->rule_from_ =
          z->transitions_.empty() ? INT64_MIN : z->transitions_.back();
      if (z->transitions_.empty()) z->initial_offset_ = rule.std_offset;
      z->extend_with_rule();
    }
  }
  return std::shared_ptr<const TimeZone>(std::move(z));
}

void TimeZone::extend_with_rule() {
  if (!rule_ || !rule_->has_dst) return;
  int year = 1970;
  if (!transitions_.empty()) {
    year = civil_from_seconds(transitions_.back()).year;
  }
  for (; year <= kExtendToYear; ++year) {
    Change ch[2];
    rule_changes(*rule_, year, ch);
    for (const Change& c : ch) {
      if (!transitions_.empty() && c.at <= transitions_.back()) continue;
      transitions_.push_back(c.at);
      offsets_.push_back(c.offset);
    }
  }
  if (transitions_.empty()) return;
  rule_from_ = transitions_.back();
}

int TimeZone::rule_offset_at(std::int64_t t) const {
  const PosixRule& r = *rule_;
  if (!r.has_dst) return r.std_offset;
  int year = civil_from_seconds(t + r.std_offset).year;
  int offset = r.std_offset;
  std::int64_t best = INT64_MIN;
  for (int y = year - 1; y <= year + 1; ++y) {
    Change ch[2];
    rule_changes(r, y, ch);
    for (const Change& c : ch) {
      if (c.at <= t && c.at >= best) {
        best = c.at;
        offset = c.offset;
      }
    }
  }
  return offset;
}

int TimeZone::offset_at(std::int64_t t) const {
  if (rule_ && t > rule_from_) return rule_offset_at(t);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

CivilTime TimeZone::to_local(WallTime t) const {
  std::int64_t s =
      std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  return civil_from_seconds(s + offset_at(s));
}

LocalLookup TimeZone::lookup_local(std::int64_t local) const {
  // At most one transition within a day of any instant (true of every zone
  // since 1900 except a few historic double changes, which resolve to one of
  // their offsets).
  int before = offset_at(local - 86400);
  int after = offset_at(local + 86400);
  std::int64_t a = local - before;
  std::int64_t b = local - after;
  bool a_ok = offset_at(a) == before;
  bool b_ok = offset_at(b) == after;
  LocalLookup out;
  if (before == after || (a_ok && !b_ok)) {
    out.first = a;
  } else if (b_ok && !a_ok) {
    out.first = b;
  } else if (a_ok && b_ok) {
    out.kind = LocalLookup::Kind::repeated;
    out.first = std::min(a, b);
    out.second = std::max(a, b);
  } else {
    // A gap: the clock jumps from `before` to `after` (> before) at some
    // instant in (b, a]; find it.
    out.kind = LocalLookup::Kind::skipped;
    std::int64_t lo = std::min(a, b), hi = std::max(a, b);
    while (hi - lo > 1) {
      std::int64_t mid = lo + (hi - lo) / 2;
      if (offset_at(mid) == before) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    out.first = hi;
  }
  return out;
}

std::int64_t TimeZone::from_local_seconds(std::int64_t local) const {
  return lookup_local(local).first;
}

WallTime TimeZone::from_local(const CivilTime& c) const {
  return WallTime(
      std::chrono::seconds(from_local_seconds(seconds_from_civil(c))));
}

// --- ZoneCache -----------------------------------------------------------

ZoneCache::ZoneCache(std::string root) : root_(std::move(root)) {}

Result<std::shared_ptr<const TimeZone>> ZoneCache::load(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") return TimeZone::utc();
  if (!valid_zone_name(name)) {
    return Error(Code::invalid_argument,
                 "time zone " + quoted(name) + ": not a valid IANA zone name",
                 "use a name such as Europe/Berlin, America/New_York or UTC",
                 kDomain);
  }
  std::string key(name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = zones_.find(key);
    if (it != zones_.end()) return it->second;
  }
  struct stat st;
  if (::stat(root_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(Code::failed_precondition,
                 "time zone " + quoted(name) + ": the zone directory " + root_ +
                     " is missing",
                 "install the tzdata package (apt-get install tzdata)",
                 kDomain);
  }
  std::string path = root_ + "/" + key;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_size > kMaxZoneFileSize) {
    return Error(
        Code::invalid_argument,
        "time zone " + quoted(name) + ": unknown zone (no file " + path + ")",
        "use an IANA name such as Europe/Berlin; the names are "
        "the files under " +
            root_,
        kDomain);
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return Error(Code::io_error,
                 "time zone " + quoted(name) + ": cannot read " + path, {},
                 kDomain);
  }
  const std::string data = bytes.str();
  if (data.compare(0, 4, "TZif") != 0) {  // zone.tab, iso3166.tab, ...
    return Error(
        Code::invalid_argument,
        "time zone " + quoted(name) + ": " + path + " is not a zone file",
        "use an IANA name such as Europe/Berlin", kDomain);
  }
  NW_ASSIGN_OR_RETURN(auto zone, TimeZone::from_tzif(key, data));
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = zones_.emplace(key, std::move(zone));
  return it->second;
}

Result<std::shared_ptr<const TimeZone>> load_time_zone(std::string_view name) {
  static ZoneCache* cache = [] {
    const char* dir = std::getenv("TZDIR");
    return new ZoneCache(dir != nullptr && *dir != '\0'
                             ? std::string(dir)
                             : std::string(ZoneCache::kDefaultRoot));
  }();
  return cache->load(name);
}

}  // namespace nw::jobs
