#include <doctest/doctest.h>

#include <string>

#include "common/config/job_codec.h"

namespace nw::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

JobSpec minimal() {
  JobSpec j;
  j.name = "report";
  j.command = {"/bin/true"};
  j.schedule = "@hourly";
  return j;
}

JobSpec full() {
  JobSpec j;
  j.name = "nightly-report";
  j.shell = "echo \"h\xc3\xa9llo\" | tee /tmp/x\n";
  j.env = {{"A", "1"}, {"B", ""}};
  j.workdir = "/var/reports";
  j.schedule = "0 30 2 * * *";
  j.timezone = "Europe/Berlin";
  j.concurrency = ConcurrencyPolicy::replace;
  j.missed = MissedPolicy::run_all;
  j.starting_deadline = minutes(90);
  j.timeout = seconds(15 * 60 + 1);
  j.retries = {3, seconds(1), minutes(10), 0.35};
  j.priority = 7;
  j.placement.labels = {{"role", "db"}, {"zone", "a"}};
  j.placement.count = 3;
  j.output_limit = 1000000;
  j.enabled = false;
  return j;
}

std::string decode_error(std::string_view body) {
  auto r = decode_job(body);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::invalid_argument);
  return r.error().message;
}

}  // namespace

TEST_SUITE("config.job_codec") {
  TEST_CASE("encode.canonical_text_of_a_minimal_job") {
    CHECK(encode_job(minimal()) ==
          R"({"command":["/bin/true"],"concurrency":"forbid","enabled":true,)"
          R"("env":{},"kind":"shell","missed":"skip","name":"report",)"
          R"("output_limit":1048576,"placement":{"all":false,"count":1,)"
          R"("labels":{}},"priority":0,"retries":{"backoff":"10s",)"
          R"("jitter":0.2,"max":0,"max_backoff":"5m"},"schedule":"@hourly",)"
          R"("shell":"","starting_deadline":"5m","timeout":"0s",)"
          R"("timezone":"UTC","workdir":"/"})");
  }

  TEST_CASE("round_trip.decode_of_encode_is_the_spec") {
    for (const JobSpec& j : {minimal(), full()}) {
      std::string body = encode_job(j);
      auto back = decode_job(body);
      REQUIRE_MESSAGE(back.ok(), back.error().to_string());
      CHECK(*back == j);
      CHECK(encode_job(*back) == body);
    }
    JobSpec all = minimal();
    all.placement.all = true;
    auto back = decode_job(encode_job(all));
    REQUIRE(back.ok());
    CHECK(*back == all);
  }

  TEST_CASE("decode.missing_fields_take_the_defaults") {
    auto r = decode_job(
        R"({"name":"x","shell":"echo","schedule":"@daily","kind":null,)"
        R"("retries":{"max":2}})");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    JobSpec want;
    want.name = "x";
    want.shell = "echo";
    want.schedule = "@daily";
    want.retries.max = 2;
    CHECK(*r == want);
    // Other duration spellings are read, and written back canonically.
    r = decode_job(R"({"name":"x","shell":"e","schedule":"@daily",)"
                   R"("timeout":"90s"})");
    REQUIRE(r.ok());
    CHECK(r->timeout == seconds(90));
    CHECK(job_to_json(*r)["timeout"] == "1m30s");
  }

  TEST_CASE("decode.rejects_unknown_fields") {
    CHECK(decode_error(R"({"name":"x","shell":"e","schedule":"@daily",)"
                       R"("timeot":"1m"})") ==
          "job: unknown field \"timeot\"; did you mean timeout?");
    CHECK(decode_error(R"({"name":"x","shell":"e","schedule":"@daily",)"
                       R"("owner":"ops"})") == "job: unknown field \"owner\"");
    CHECK(decode_error(R"({"name":"x","shell":"e","schedule":"@daily",)"
                       R"("retries":{"maxx":1}})") ==
          "job.retries: unknown field \"maxx\"; did you mean max?");
    CHECK(decode_error(R"({"name":"x","shell":"e","schedule":"@daily",)"
                       R"("placement":{"count":1,"lables":{}}})") ==
          "job.placement: unknown field \"lables\"; did you mean labels?");
  }

  TEST_CASE("decode.validates_the_spec") {
    CHECK(decode_error(R"({"name":"x","shell":"e","schedule":"@daily",)"
                       R"("priority":12})") ==
          "job.x.priority: expected an integer from 0 to 9, got 12");
    CHECK(decode_error(R"({"name":"x","shell":"e","command":["a"],)"
                       R"("schedule":"@daily"})") ==
          "job.x: set either command or shell, not both");
    CHECK(decode_error(R"({"name":"../etc","shell":"e","schedule":"d"})")
              .find("job.\"../etc\": expected a job name") == 0);
  }

  TEST_CASE("decode.hostile_input") {
    struct Case {
      std::string body;
      std::string starts;
    };
    const std::string ok_prefix = R"({"name":"x","schedule":"@daily",)";
    for (const Case& c : std::vector<Case>{
             {"", "job: not valid JSON"},
             {"{", "job: not valid JSON"},
             {"[1]", "job: expected a JSON object, got array"},
             {"null", "job: expected a JSON object, got null"},
             {"{\"name\":\"x\xff\"}", "job: not valid JSON"},
             {std::string(100000, '[') + std::string(100000, ']'),
              "job: expected a JSON object, got array"},
             {"{}", "job: missing field \"name\""},
             {R"({"name":"x"})", "job: missing field \"schedule\""},
             {R"({"name":7,"schedule":"d"})",
              "job: field \"name\": expected a string, got number"},
             {ok_prefix + R"("shell":"e","priority":"5"})",
              "job: field \"priority\": expected an integer, got string"},
             {ok_prefix + R"("shell":"e","priority":1.5})",
              "job: field \"priority\": expected an integer, got number"},
             {ok_prefix + R"("shell":"e","priority":99999999999999999999})",
              "job: field \"priority\": expected an integer, got number"},
             {ok_prefix + R"("shell":"e","priority":-9999999999})",
              "job: field \"priority\": integer out of range, got "
              "-9999999999"},
             {ok_prefix + R"("shell":"e","output_limit":-1})",
              "job: field \"output_limit\": expected a non-negative integer"},
             {ok_prefix + R"("shell":"e","output_limit":"1MiB"})",
              "job: field \"output_limit\": expected a non-negative integer"},
             {ok_prefix + R"("shell":"e","timeout":15})",
              "job: field \"timeout\": expected a duration string, got "
              "number"},
             {ok_prefix + R"("shell":"e","timeout":"-5s"})",
              "job: field \"timeout\": expected a duration such as"},
             {ok_prefix + R"("shell":"e","missed":"never"})",
              "job: field \"missed\": expected \"skip\", \"run-once\" or "
              "\"run-all\", got \"never\""},
             {ok_prefix + R"("shell":"e","kind":1})",
              "job: field \"kind\": expected a string, got number"},
             {ok_prefix + R"("command":"/bin/true"})",
              "job: field \"command\": expected an array of strings"},
             {ok_prefix + R"("command":["/bin/true",null]})",
              "job: field \"command\": expected an array of strings"},
             {ok_prefix + R"("command":["a\u0000b"]})",
              "job.x.command: item 0 must not contain a NUL character"},
             {ok_prefix + R"("shell":"e","env":{"A":1}})",
              "job: field \"env\": expected an object of strings, got number"},
             {ok_prefix + R"("shell":"e","env":[]})",
              "job: field \"env\": expected an object of strings, got array"},
             {ok_prefix + R"("shell":"e","retries":[]})",
              "job.retries: expected a JSON object, got array"},
             {ok_prefix + R"("shell":"e","retries":{"jitter":"x"}})",
              "job.retries: field \"jitter\": expected a number"},
             {ok_prefix + R"("shell":"e","placement":"all"})",
              "job.placement: expected a JSON object, got string"},
             {ok_prefix + R"("shell":"e","placement":{"all":1}})",
              "job.placement: field \"all\": expected true or false"},
             {ok_prefix + R"("shell":"e","enabled":"true"})",
              "job: field \"enabled\": expected true or false"},
         }) {
      std::string m = decode_error(c.body);
      CHECK_MESSAGE(m.find(c.starts) == 0, m);
    }
  }

  TEST_CASE("decode.huge_strings_are_refused_by_validation") {
    std::string body = R"({"name":"x","schedule":"@daily","shell":")" +
                       std::string(kMaxJobStringBytes + 1, 'a') + "\"}";
    CHECK(decode_error(body) == "job.x.shell: longer than 65536 bytes");
    body = R"({"name":")" + std::string(5000, 'n') +
           R"(","schedule":"@daily","shell":"e"})";
    CHECK(decode_error(body).find("expected a job name") != std::string::npos);
  }
}

}  // namespace nw::config
