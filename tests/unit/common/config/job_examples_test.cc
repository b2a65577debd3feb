#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "common/config/job_codec.h"
#include "common/config/job_file.h"

namespace nw::config {
namespace {

const std::string kExamples = std::string(NW_SOURCE_DIR) + "/examples/jobs";

}  // namespace

TEST_SUITE("config.job_examples") {
  TEST_CASE("examples.every_file_parses_and_round_trips") {
    size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(kExamples)) {
      if (entry.path().extension() != ".toml") continue;
      ++files;
      auto r = load_job_file(entry.path().string());
      REQUIRE_MESSAGE(r.ok(), r.error().to_string());
      CHECK_MESSAGE(!r->empty(), entry.path().string());
      for (const LoadedJob& job : *r) {
        auto back = decode_job(encode_job(job.spec));
        REQUIRE_MESSAGE(back.ok(), back.error().to_string());
        CHECK(*back == job.spec);
      }
    }
    CHECK(files >= 4);
  }

  TEST_CASE("examples.folder_holds_the_documented_jobs") {
    auto r = load_jobs(kExamples);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    std::map<std::string, JobSpec> by_name;
    for (const LoadedJob& j : *r) by_name[j.spec.name] = j.spec;
    REQUIRE(by_name.count("nightly-report") == 1);
    CHECK(by_name["nightly-report"].timezone == "Europe/Berlin");
    REQUIRE(by_name.count("api-health-probe") == 1);
    CHECK(by_name["api-health-probe"].schedule == "@every 10s");
    REQUIRE(by_name.count("search-reindex") == 1);
    CHECK(by_name["search-reindex"].placement.count == 3);
    REQUIRE(by_name.count("db-vacuum") == 1);
    CHECK(by_name["db-vacuum"].placement.labels.at("role") == "db");
    REQUIRE(by_name.count("rotate-agent-logs") == 1);
    CHECK(by_name["rotate-agent-logs"].placement.all);
  }
}

}  // namespace nw::config
