// `nwctl topic ...` and `nwctl group ...` run in-process against a fake
// agent that answers canned bodies and keeps the requests, so the tests see
// the method, path and body each command sends and what it prints.
#include <doctest/doctest.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "common/http/server.h"
#include "nwctl_runner.h"

namespace {

using nw::ctl::test::nwctl;

constexpr const char* kTopic = R"({"name":"orders","id":1,"partitions":3,
  "replicas":3,"retention_ms":604800000,"retention_bytes":-1,
  "segment_bytes":134217728,"partition_states":[
  {"partition":0,"leader":"nw-1","replicas":["nw-1","nw-2","nw-3"],
   "in_sync":["nw-1","nw-2","nw-3"],"high_watermark":12,"start_offset":0,
   "size_bytes":2048,"status":"online","error":""}]})";

// Answers every /v1/topics and /v1/groups request with `answer`.
class AdminFake {
 public:
  AdminFake() : server_(options()) {
    auto handler = [this](const nw::http::Request& req) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
      return answer_;
    };
    for (const char* method : {"GET", "POST", "PATCH", "DELETE"}) {
      server_.route(method, "/v1/(topics|groups).*", "admin", handler);
    }
    REQUIRE(server_.bind().ok());
    server_.start();
  }
  std::string addr() const {
    return "127.0.0.1:" + std::to_string(server_.port());
  }
  void answer(nw::http::Response r) {
    std::lock_guard<std::mutex> lock(mu_);
    answer_ = std::move(r);
  }
  nw::http::Request last() {
    std::lock_guard<std::mutex> lock(mu_);
    REQUIRE(!requests_.empty());
    return requests_.back();
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_.size();
  }

 private:
  static nw::http::ServerOptions options() {
    nw::http::ServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.threads = 2;
    return o;
  }
  std::mutex mu_;
  nw::http::Response answer_ = nw::http::Response::json("{}");
  std::vector<nw::http::Request> requests_;
  nw::http::Server server_;
};

nw::http::Response api_error(nw::Code code, std::string message,
                             std::string hint = {}) {
  return nw::http::Response::error(nw::Error(code, std::move(message), hint));
}

}  // namespace

TEST_SUITE("cli.topic_command") {
  TEST_CASE("create.posts_the_body_and_reports") {
    AdminFake agent;
    agent.answer(nw::http::Response::json(kTopic, 201));
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "topic", "create",
                    "orders", "--partitions", "3", "--replicas", "3",
                    "--retention-ms", "7d"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == "created topic orders (3 partitions, 3 replicas)\n");
    auto req = agent.last();
    CHECK(req.method == "POST");
    CHECK(req.path == "/v1/topics");
    CHECK(nlohmann::json::parse(req.body) ==
          nlohmann::json{{"name", "orders"},
                         {"partitions", 3},
                         {"replicas", 3},
                         {"retention_ms", 604800000}});
  }

  TEST_CASE("create.usage_errors_send_nothing") {
    AdminFake agent;
    auto r = nwctl({"--addr", agent.addr(), "topic", "create", "orders",
                    "--replicas", "3"});
    CHECK(r.code == 2);
    CHECK(r.err.find("--partitions is required") != std::string::npos);
    CHECK(r.err.find("hint: e.g. nwctl topic create orders --partitions 3 "
                     "--replicas 3") != std::string::npos);
    CHECK(agent.count() == 0);
  }

  TEST_CASE("create.conflict_exits_4_with_a_hint") {
    AdminFake agent;
    agent.answer(api_error(nw::Code::conflict, "topic \"orders\": exists"));
    auto r = nwctl({"--addr", agent.addr(), "topic", "create", "orders",
                    "--partitions", "3", "--replicas", "3"});
    CHECK(r.code == 4);
    CHECK(r.err ==
          "nwctl: topic \"orders\": exists\n"
          "hint: see it with: nwctl topic describe orders\n");
  }

  TEST_CASE("describe.table_and_json") {
    AdminFake agent;
    agent.answer(nw::http::Response::json(kTopic));
    auto t = nwctl(
        {"--addr", agent.addr(), "-o", "table", "topic", "describe", "orders"});
    CHECK_MESSAGE(t.code == 0, t.err);
    CHECK(agent.last().path == "/v1/topics/orders");
    CHECK(t.out.find("0           nw-1     nw-1,nw-2,nw-3") !=
          std::string::npos);
    auto j = nwctl(
        {"--addr", agent.addr(), "-o", "json", "topic", "describe", "orders"});
    CHECK(j.code == 0);
    CHECK(nlohmann::json::parse(j.out) == nlohmann::json::parse(kTopic));

    agent.answer(api_error(nw::Code::not_found, "topic \"nope\": not found"));
    auto missing = nwctl({"--addr", agent.addr(), "topic", "describe", "nope"});
    CHECK(missing.code == 3);
    CHECK(missing.err.find("hint: list the topics with: nwctl topic list") !=
          std::string::npos);
  }

  TEST_CASE("alter.sends_patch") {
    AdminFake agent;
    agent.answer(nw::http::Response::json(kTopic));
    auto r =
        nwctl({"--addr", agent.addr(), "-o", "json", "topic", "alter", "orders",
               "--partitions", "6", "--retention-bytes", "1GiB"});
    CHECK_MESSAGE(r.code == 0, r.err);
    auto req = agent.last();
    CHECK(req.method == "PATCH");
    CHECK(req.path == "/v1/topics/orders");
    CHECK(nlohmann::json::parse(req.body) ==
          nlohmann::json{{"partitions", 6}, {"retention_bytes", 1073741824}});
  }

  TEST_CASE("delete_list_and_reassign") {
    AdminFake agent;
    agent.answer(nw::http::Response::text("", "application/json", 204));
    auto d = nwctl(
        {"--addr", agent.addr(), "-o", "json", "topic", "delete", "orders"});
    CHECK_MESSAGE(d.code == 0, d.err);
    CHECK(agent.last().method == "DELETE");
    CHECK(nlohmann::json::parse(d.out) ==
          nlohmann::json{{"topic", "orders"}, {"deleted", true}});

    agent.answer(nw::http::Response::json(
        R"({"topics":[{"name":"orders","partitions":3,"replicas":3}]})"));
    auto l = nwctl({"--addr", agent.addr(), "-o", "table", "topic", "list"});
    CHECK(l.code == 0);
    CHECK(l.out.find("orders   3            3") != std::string::npos);

    agent.answer(nw::http::Response::json(
        R"({"topic":"orders","partition":0,"from":["a","b","c"],
            "to":["a","b","d"]})",
        202));
    auto re = nwctl({"--addr", agent.addr(), "-o", "table", "topic", "reassign",
                     "orders", "--partition", "0", "--replicas", "a,b",
                     "--replicas", "d"});
    CHECK_MESSAGE(re.code == 0, re.err);
    CHECK(agent.last().path == "/v1/topics/orders/reassign");
    CHECK(nlohmann::json::parse(agent.last().body) ==
          nlohmann::json{{"partition", 0}, {"replicas", {"a", "b", "d"}}});
    CHECK(re.out.find("reassigning orders partition 0: a,b,c -> a,b,d\n") == 0);
  }
}

TEST_SUITE("cli.group_command") {
  TEST_CASE("reset_offsets.dry_run_says_so") {
    AdminFake agent;
    agent.answer(nw::http::Response::json(
        R"({"executed":false,"plan":[{"topic":"orders","partition":0,
            "current":10,"new":0}]})"));
    auto r =
        nwctl({"--addr", agent.addr(), "-o", "table", "group", "reset-offsets",
               "billing", "--topic", "orders", "--shift-by", "-10"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(agent.last().path == "/v1/groups/billing/reset-offsets");
    CHECK(nlohmann::json::parse(agent.last().body)["value"] == -10);
    CHECK(r.out.find("orders   0           10        0     -10") !=
          std::string::npos);
    CHECK(r.err.find("dry run: nothing changed") != std::string::npos);
  }

  TEST_CASE("reset_offsets.exclusive_options_are_usage_errors") {
    AdminFake agent;
    auto r = nwctl({"--addr", agent.addr(), "group", "reset-offsets", "billing",
                    "--topic", "orders", "--to-earliest", "--to-offset", "5"});
    CHECK(r.code == 2);
    CHECK(agent.count() == 0);
  }

  TEST_CASE("describe_and_delete") {
    AdminFake agent;
    agent.answer(nw::http::Response::json(
        R"({"group":"billing","state":"empty","generation":3,
            "strategy":"range","members":[],
            "offsets":[{"topic":"orders","partition":0,"committed":5,
                        "high_watermark":9,"lag":4}]})"));
    auto r = nwctl({"--addr", agent.addr(), "-o", "table", "group", "describe",
                    "billing"});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out.find("TOTAL LAG    4") != std::string::npos);

    agent.answer(api_error(nw::Code::failed_precondition,
                           "group \"billing\": has members"));
    auto d = nwctl({"--addr", agent.addr(), "group", "delete", "billing"});
    CHECK(d.code == 4);
    CHECK(d.err.find("hint: stop the group's consumers first") !=
          std::string::npos);
  }
}
