#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/jobs/time_zone.h"

namespace nw::jobs {
namespace {

std::int64_t utc_seconds(int y, int mo, int d, int h = 0, int mi = 0,
                         int s = 0) {
  return seconds_from_civil(CivilTime{y, mo, d, h, mi, s});
}

std::shared_ptr<const TimeZone> zone(std::string_view name) {
  auto z = load_time_zone(name);
  REQUIRE_MESSAGE(z.ok(), z.error().to_string());
  return *z;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The offset glibc's localtime_r gives for `t` in the zone of $TZ.
long libc_offset(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return tm.tm_gmtoff;
}

}  // namespace

TEST_SUITE("jobs.civil_time") {
  TEST_CASE("days_from_civil.round_trips") {
    CHECK(days_from_civil(1970, 1, 1) == 0);
    CHECK(days_from_civil(2000, 3, 1) == 11017);
    CHECK(weekday_from_days(days_from_civil(2026, 12, 1)) == 2);  // Tuesday
    CHECK(weekday_from_days(days_from_civil(1969, 12, 31)) == 3);
    for (std::int64_t s = -5'000'000'000; s < 5'000'000'000; s += 86'399 * 37) {
      CivilTime c = civil_from_seconds(s);
      CAPTURE(s);
      REQUIRE(seconds_from_civil(c) == s);
    }
  }
  TEST_CASE("days_in_month.leap_years") {
    CHECK(days_in_month(2024, 2) == 29);
    CHECK(days_in_month(2100, 2) == 28);
    CHECK(days_in_month(2000, 2) == 29);
    CHECK(days_in_month(2026, 4) == 30);
  }
}

TEST_SUITE("jobs.zone_cache") {
  TEST_CASE("load.utc_is_built_in") {
    ZoneCache cache("/nonexistent/zoneinfo");
    auto z = cache.load("UTC");
    REQUIRE(z.ok());
    CHECK((*z)->name() == "UTC");
    CHECK((*z)->offset_at(utc_seconds(2026, 7, 1)) == 0);
    CHECK(cache.load("Etc/UTC").ok());
  }
  TEST_CASE("load.reads_berlin") {
    auto z = zone("Europe/Berlin");
    CHECK(z->name() == "Europe/Berlin");
    CHECK(z->offset_at(utc_seconds(2026, 1, 15)) == 3600);
    CHECK(z->offset_at(utc_seconds(2026, 7, 15)) == 7200);
    // After 2100 the footer rule is evaluated directly.
    CHECK(z->offset_at(utc_seconds(2200, 1, 15)) == 3600);
    CHECK(z->offset_at(utc_seconds(2200, 7, 15)) == 7200);
  }
  TEST_CASE("load.caches_zones") {
    ZoneCache cache;
    auto a = cache.load("America/New_York");
    auto b = cache.load("America/New_York");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->get() == b->get());
  }
  TEST_CASE("load.is_thread_safe") {
    ZoneCache cache;
    const char* names[] = {"Europe/Berlin", "America/New_York",
                           "Australia/Lord_Howe", "Asia/Tokyo"};
    std::vector<std::thread> threads;
    std::vector<const TimeZone*> seen(16);
    for (int i = 0; i < 16; ++i) {
      threads.emplace_back([&, i] {
        for (int k = 0; k < 50; ++k) {
          auto z = cache.load(names[i % 4]);
          if (z.ok()) seen[static_cast<size_t>(i)] = z->get();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < 16; ++i) {
      CHECK(seen[static_cast<size_t>(i)] != nullptr);
      CHECK(seen[static_cast<size_t>(i)] == cache.load(names[i % 4])->get());
    }
  }
  TEST_CASE("load.rejects_bad_names") {
    ZoneCache cache;
    for (const char* name :
         {"../../etc/passwd", "/etc/passwd", "Europe/../../etc/passwd",
          "Europe/./Berlin", "", "Europe//Berlin", "Europe/Berlin/",
          "Europe Berlin", "Europe/Berlin\n"}) {
      CAPTURE(name);
      auto z = cache.load(name);
      REQUIRE_FALSE(z.ok());
      CHECK(z.error().code == Code::invalid_argument);
      CHECK(z.error().message.find("time zone \"" + std::string(name) + "\"") !=
            std::string::npos);
    }
  }
  TEST_CASE("load.unknown_zone_names_it") {
    ZoneCache cache;
    auto z = cache.load("Europe/Berln");
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().code == Code::invalid_argument);
    CHECK(z.error().message.find("\"Europe/Berln\"") != std::string::npos);
    CHECK(z.error().message.find("unknown zone") != std::string::npos);
    // A directory or a table is not a zone.
    CHECK(cache.load("Europe").error().code == Code::invalid_argument);
    auto tab = cache.load("zone.tab");
    REQUIRE_FALSE(tab.ok());
    CHECK(tab.error().code == Code::invalid_argument);
    CHECK(tab.error().message.find("\"zone.tab\"") != std::string::npos);
  }
  TEST_CASE("load.missing_directory_says_install_tzdata") {
    ZoneCache cache("/nonexistent/zoneinfo");
    auto z = cache.load("Europe/Berlin");
    REQUIRE_FALSE(z.ok());
    CHECK(z.error().code == Code::failed_precondition);
    CHECK(z.error().message.find("\"Europe/Berlin\"") != std::string::npos);
    CHECK(z.error().hint.find("tzdata") != std::string::npos);
  }
}

TEST_SUITE("jobs.time_zone") {
  TEST_CASE("from_tzif.rejects_corrupt_files") {
    const std::string good =
        file_bytes(std::string(ZoneCache::kDefaultRoot) + "/Europe/Berlin");
    REQUIRE(good.size() > 100);
    REQUIRE(TimeZone::from_tzif("x", good).ok());
    CHECK_FALSE(TimeZone::from_tzif("x", "").ok());
    CHECK_FALSE(TimeZone::from_tzif("x", "TZif2 not really").ok());
    std::string bad_magic = good;
    bad_magic[0] = 'X';
    CHECK_FALSE(TimeZone::from_tzif("x", bad_magic).ok());
    for (size_t cut :
         {size_t{10}, size_t{44}, good.size() / 2, good.size() - 3}) {
      CAPTURE(cut);
      auto z = TimeZone::from_tzif("Europe/Berlin", good.substr(0, cut));
      REQUIRE_FALSE(z.ok());
      CHECK(z.error().code == Code::corruption);
      CHECK(z.error().message.find("\"Europe/Berlin\"") != std::string::npos);
    }
  }
  TEST_CASE("from_tzif.reads_a_version_1_file") {
    // Header, one transition at 1000 to type 1 (+3600); type 0 is UTC.
    std::string b = "TZif";
    b += '\0';
    b += std::string(15, '\0');
    auto be32 = [&](std::uint32_t v) {
      for (int s = 24; s >= 0; s -= 8) b += static_cast<char>(v >> s & 0xFF);
    };
    for (std::uint32_t v : {0u, 0u, 0u, 1u, 2u, 4u}) be32(v);
    be32(1000);
    b += '\1';
    be32(0);
    b += '\0';
    b += '\0';
    be32(3600);
    b += '\0';
    b += '\0';
    b += std::string("UTC\0", 4);
    auto z = TimeZone::from_tzif("test", b);
    REQUIRE_MESSAGE(z.ok(), z.error().to_string());
    CHECK((*z)->offset_at(999) == 0);
    CHECK((*z)->offset_at(1000) == 3600);
    CHECK((*z)->offset_at(5'000'000'000) == 3600);
  }
  TEST_CASE("offset_at.matches_libc") {
    // glibc reads the same files; compare every ~13 hours from 1901 to
    // 2120 (the footer rule after the files' last transition).
    for (const char* name :
         {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
          "Australia/Sydney", "America/Santiago", "Asia/Kolkata",
          "Africa/Casablanca", "Pacific/Chatham", "America/St_Johns"}) {
      auto z = zone(name);
      setenv("TZ", name, 1);
      tzset();
      int mismatches = 0;
      for (std::int64_t t = utc_seconds(1901, 1, 1);
           t < utc_seconds(2120, 1, 1); t += 13 * 3600 + 17) {
        if (z->offset_at(t) != libc_offset(t) && ++mismatches < 5) {
          CAPTURE(name);
          CAPTURE(t);
          CHECK(z->offset_at(t) == libc_offset(t));
        }
      }
      CAPTURE(name);
      CHECK(mismatches == 0);
    }
    unsetenv("TZ");
    tzset();
  }
  TEST_CASE("from_posix.parses_rules") {
    auto z = TimeZone::from_posix("cet", "CET-1CEST,M3.5.0,M10.5.0/3");
    REQUIRE(z.ok());
    auto berlin = zone("Europe/Berlin");
    for (std::int64_t t = utc_seconds(2020, 1, 1); t < utc_seconds(2040, 1, 1);
         t += 3 * 3600 + 7) {
      REQUIRE((*z)->offset_at(t) == berlin->offset_at(t));
    }
    auto nz = TimeZone::from_posix("nz", "<+12>-12<+13>,M9.5.0,M4.1.0/3");
    REQUIRE(nz.ok());
    CHECK((*nz)->offset_at(utc_seconds(2026, 1, 1)) == 13 * 3600);
    CHECK((*nz)->offset_at(utc_seconds(2026, 7, 1)) == 12 * 3600);
    auto fixed = TimeZone::from_posix("ist", "IST-5:30");
    REQUIRE(fixed.ok());
    CHECK((*fixed)->offset_at(0) == 5 * 3600 + 1800);
    for (const char* bad : {"", "C-1", "CET", "CET-1CEST,M13.1.0,M1.1.0",
                            "CET-1CEST,M3.5.0", "CET-1CEST,J0,J5"}) {
      CAPTURE(bad);
      CHECK_FALSE(TimeZone::from_posix("x", bad).ok());
    }
  }
  TEST_CASE("lookup_local.berlin_gap_and_overlap") {
    auto z = zone("Europe/Berlin");
    // 2026-03-29 02:30 does not exist: the gap ends at 01:00 UTC.
    LocalLookup gap = z->lookup_local(utc_seconds(2026, 3, 29, 2, 30));
    CHECK(gap.kind == LocalLookup::Kind::skipped);
    CHECK(gap.first == utc_seconds(2026, 3, 29, 1, 0));
    // 2026-10-25 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET).
    LocalLookup twice = z->lookup_local(utc_seconds(2026, 10, 25, 2, 30));
    CHECK(twice.kind == LocalLookup::Kind::repeated);
    CHECK(twice.first == utc_seconds(2026, 10, 25, 0, 30));
    CHECK(twice.second == utc_seconds(2026, 10, 25, 1, 30));
    LocalLookup plain = z->lookup_local(utc_seconds(2026, 7, 1, 12, 0));
    CHECK(plain.kind == LocalLookup::Kind::unique);
    CHECK(plain.first == utc_seconds(2026, 7, 1, 10, 0));
    CivilTime c = z->to_local(WallTime(std::chrono::seconds(gap.first)));
    CHECK(c == CivilTime{2026, 3, 29, 3, 0, 0});
    CHECK(z->from_local(CivilTime{2026, 3, 29, 2, 0, 0}) ==
          WallTime(std::chrono::seconds(gap.first)));
  }
  TEST_CASE("lookup_local.lord_howe_half_hour_dst") {
    auto z = zone("Australia/Lord_Howe");
    // 2026-10-04 02:00-02:29 local is skipped (+10:30 -> +11:00).
    LocalLookup gap = z->lookup_local(utc_seconds(2026, 10, 4, 2, 15));
    CHECK(gap.kind == LocalLookup::Kind::skipped);
    CHECK(gap.first == utc_seconds(2026, 10, 3, 15, 30));
    // 2026-04-05 01:30-01:59 local happens twice.
    LocalLookup twice = z->lookup_local(utc_seconds(2026, 4, 5, 1, 45));
    CHECK(twice.kind == LocalLookup::Kind::repeated);
    CHECK(twice.first == utc_seconds(2026, 4, 4, 14, 45));
    CHECK(twice.second == utc_seconds(2026, 4, 4, 15, 15));
  }
}

}  // namespace nw::jobs
