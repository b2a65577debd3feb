#include "agent/metrics/process_collector.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace nw::metrics {
namespace {

namespace fs = std::filesystem;

using testsupport::TempDir;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// proc(5) field 14 utime .. 24 rss, with a command name that has spaces and
// parentheses in it.
const char kStat[] =
    "4242 (nw (agent) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
    "250 150 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615 "
    "1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

TEST_SUITE("metrics.process_collector") {
  TEST_CASE("parse_proc_pid_stat.counts_fields_after_the_last_paren") {
    auto r = parse_proc_pid_stat(kStat);
    REQUIRE(r.ok());
    CHECK(r->utime_ticks == 250);
    CHECK(r->stime_ticks == 150);
    CHECK(r->num_threads == 7);
    CHECK(r->starttime_ticks == 12345);
    CHECK(r->vsize_bytes == 104857600);
    CHECK(r->rss_pages == 2560);
  }

  TEST_CASE("parse_proc_pid_stat.truncated_is_corruption") {
    auto r = parse_proc_pid_stat("4242 (nw) S 1 4242");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::corruption);
    CHECK_FALSE(parse_proc_pid_stat("no parens at all").ok());
  }

  TEST_CASE("parse_boot_time.reads_btime") {
    auto r = parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\n");
    REQUIRE(r.ok());
    CHECK(*r == 1700000000u);
    CHECK_FALSE(parse_boot_time("cpu 1 2 3\n").ok());
  }

  TEST_CASE("read.uses_the_given_proc_root") {
    TempDir dir;
    fs::path root = dir.path();
    write(root / "self" / "stat", kStat);
    write(root / "stat", "cpu 1 2\nbtime 1700000000\n");
    for (const char* fd : {"0", "1", "2", "5"})
      write(root / "self/fd" / fd, "");
    ProcessCollector pc(root.string());
    auto r = pc.read();
    REQUIRE(r.ok());
    double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    CHECK(r->cpu_seconds == doctest::Approx(400 / hz));
    CHECK(r->resident_bytes == doctest::Approx(2560 * page));
    CHECK(r->virtual_bytes == doctest::Approx(104857600));
    CHECK(r->open_fds == 4);
    CHECK(r->threads == 7);
    CHECK(r->start_time_seconds == doctest::Approx(1700000000 + 12345 / hz));
  }

  TEST_CASE("read.missing_proc_is_io_error") {
    TempDir dir;
    ProcessCollector pc((dir / "nothing").string());
    auto r = pc.read();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::io_error);
    std::vector<Sample> samples;
    pc.collect(samples);
    CHECK(samples.empty());
  }

  TEST_CASE("read.real_proc_values_are_plausible") {
    ProcessCollector pc;
    auto r = pc.read();
    REQUIRE(r.ok());
    CHECK(r->resident_bytes > 0);
    CHECK(r->virtual_bytes >= r->resident_bytes);
    CHECK(r->open_fds >= 3);
    CHECK(r->max_fds >= r->open_fds);
    CHECK(r->cpu_seconds >= 0);
    CHECK(r->threads >= 1);
    // Started after 2020-01-01 and not in the future by more than a day.
    CHECK(r->start_time_seconds > 1577836800);
    CHECK(r->start_time_seconds < static_cast<double>(::time(nullptr)) + 86400);
  }

  TEST_CASE("constructor.registers_standard_names_until_destroyed") {
    Registry r;
    std::string out;
    {
      ProcessCollector pc(r);
      out = r.render();
    }
    CHECK(r.render().empty());
    for (const char* name :
         {"process_cpu_seconds_total", "process_resident_memory_bytes",
          "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
          "process_start_time_seconds", "process_threads"}) {
      CAPTURE(name);
      CHECK(out.find(std::string("\n") + name + " ") != std::string::npos);
    }
    CHECK(out.find("# TYPE process_cpu_seconds_total counter\n") !=
          std::string::npos);
    CHECK(out.find("# TYPE process_open_fds gauge\n") != std::string::npos);
  }
}

}  // namespace
}  // namespace nw::metrics
