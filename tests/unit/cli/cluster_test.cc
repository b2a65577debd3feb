// `nwctl cluster ...`: the argument checks, request bodies and rendering
// (cli/cluster.h), and the commands run against a fake agent that records
// what it was sent (the real agent side is tested by the integration tests).
#include <doctest/doctest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/cluster.h"
#include "cli/context.h"
#include "common/cli/command_tree.h"
#include "common/http/server.h"
#include "nwctl_runner.h"

namespace {

using nw::ctl::ClusterMember;
using nw::ctl::ClusterStatus;
using nw::ctl::test::nwctl;
using nw::ctl::test::Run;

constexpr const char* kStatusBody = R"({
  "cluster_id": "c-3f9a1b2c4d5e6f70", "node_id": "nw-22222222",
  "stale": false, "leader": "nw-11111111", "term": 3,
  "commit_index": 42, "applied_index": 41,
  "members": [
    {"id": "nw-11111111", "raft_id": 1234567890123,
     "api_addr": "127.0.0.1:7070", "peer_addr": "127.0.0.1:7071",
     "role": "voter", "state": "healthy", "leader": true,
     "match_index": 42, "lag": 0, "clock_offset_ms": 0, "clock_rtt_ms": 0,
     "labels": {"rack": "r1", "zone": "a"}},
    {"id": "nw-22222222", "raft_id": 7, "api_addr": "127.0.0.1:7170",
     "peer_addr": "127.0.0.1:7171", "role": "learner",
     "state": "unreachable", "leader": false, "match_index": 30,
     "lag": 12, "clock_offset_ms": -120, "clock_rtt_ms": 3, "labels": {},
     "added_later": "ignored"}
  ],
  "future_field": 1
})";

// An HTTP server on a free port standing in for nwagent: every /v1/cluster
// route answers `answer`, and the last request is kept for the test.
class FakeAgent {
 public:
  FakeAgent() : server_(options()) {
    auto handler = [this](const nw::http::Request& req) {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = req;
      ++requests_;
      return answer_;
    };
    server_.route("GET", "/v1/cluster/status", "status", handler);
    server_.route("POST", "/v1/cluster/(join|remove|transfer-leader)", "post",
                  handler);
    server_.route("PUT", "/v1/cluster/nodes/([^/]+)/labels", "labels", handler);
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
    return last_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
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
  nw::http::Request last_;
  int requests_ = 0;
  nw::http::Server server_;
};

nlohmann::json body_of(const nw::http::Request& r) {
  return nlohmann::json::parse(r.body);
}

}  // namespace

TEST_SUITE("cli.cluster_format") {
  TEST_CASE("cluster_status_from_json.decodes_every_field") {
    auto s = nw::ctl::cluster_status_from_json(kStatusBody);
    REQUIRE(s.ok());
    CHECK(s->cluster_id == "c-3f9a1b2c4d5e6f70");
    CHECK(s->node_id == "nw-22222222");
    CHECK_FALSE(s->stale);
    CHECK(s->leader == "nw-11111111");
    CHECK(s->term == 3);
    CHECK(s->commit_index == 42);
    CHECK(s->applied_index == 41);
    REQUIRE(s->members.size() == 2);
    const ClusterMember& m = s->members[0];
    CHECK(m.raft_id == 1234567890123ULL);
    CHECK(m.peer_addr == "127.0.0.1:7071");
    CHECK(m.leader);
    CHECK(m.match_index == std::optional<std::uint64_t>(42));
    CHECK(m.labels ==
          std::map<std::string, std::string>{{"rack", "r1"}, {"zone", "a"}});
    CHECK(s->members[1].role == "learner");
    CHECK(s->members[1].lag == std::optional<std::uint64_t>(12));
    CHECK(m.clock_offset_ms == std::optional<std::int64_t>(0));
    CHECK(s->members[1].clock_offset_ms == std::optional<std::int64_t>(-120));
    CHECK(s->members[1].clock_rtt_ms == std::optional<std::int64_t>(3));
  }

  TEST_CASE("cluster_status_from_json.clock_offset_null_or_absent_is_unknown") {
    auto s = nw::ctl::cluster_status_from_json(
        R"({"cluster_id":"c","node_id":"n","leader":"","term":1,
            "commit_index":0,"applied_index":0,
            "members":[{"id":"a","api_addr":"x:1","peer_addr":"x:2",
                        "role":"voter","state":"healthy",
                        "clock_offset_ms":null,"clock_rtt_ms":null},
                       {"id":"b","api_addr":"y:1","peer_addr":"y:2",
                        "role":"voter","state":"healthy"}]})");
    REQUIRE(s.ok());
    REQUIRE(s->members.size() == 2);
    CHECK_FALSE(s->members[0].clock_offset_ms.has_value());
    CHECK_FALSE(s->members[0].clock_rtt_ms.has_value());
    CHECK_FALSE(s->members[1].clock_offset_ms.has_value());

    auto wrong = nw::ctl::cluster_member_from_json(
        R"({"id":"a","api_addr":"x:1","peer_addr":"x:2","role":"voter",
            "state":"healthy","clock_offset_ms":"+3ms"})");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().message ==
          "cluster member: field \"clock_offset_ms\": expected an integer, "
          "got string");
  }

  TEST_CASE("clock_offset_text.signed_milliseconds_or_dash") {
    CHECK(nw::ctl::clock_offset_text(std::nullopt) == "-");
    CHECK(nw::ctl::clock_offset_text(0) == "0ms");
    CHECK(nw::ctl::clock_offset_text(3) == "+3ms");
    CHECK(nw::ctl::clock_offset_text(-120) == "-120ms");
    CHECK(nw::ctl::clock_offset_text(5004) == "+5004ms");
  }

  TEST_CASE("cluster_status_from_json.names_the_bad_field") {
    auto missing = nw::ctl::cluster_status_from_json(
        R"({"cluster_id":"c","node_id":"n","leader":"","term":1,
            "commit_index":0,"applied_index":0,
            "members":[{"id":"a","api_addr":"x:1","peer_addr":"x:2",
                        "role":"voter","state":"healthy"},
                       {"api_addr":"y:1"}]})");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message ==
          "cluster status: members[1]: missing field \"id\"");

    auto wrong = nw::ctl::cluster_status_from_json(
        R"({"cluster_id":"c","node_id":"n","leader":"","term":"3",
            "commit_index":0,"applied_index":0,"members":[]})");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().message.find("\"term\"") != std::string::npos);

    auto lag = nw::ctl::cluster_member_from_json(
        R"({"id":"a","api_addr":"x:1","peer_addr":"x:2","role":"voter",
            "state":"healthy","lag":-1})");
    REQUIRE_FALSE(lag.ok());
    CHECK(lag.error().message.find("\"lag\"") != std::string::npos);
  }

  TEST_CASE("render_cluster_status.marks_the_leader_and_lists_members") {
    auto s = nw::ctl::cluster_status_from_json(kStatusBody);
    REQUIRE(s.ok());
    CHECK(nw::ctl::render_cluster_status(*s) ==
          "CLUSTER         c-3f9a1b2c4d5e6f70\n"
          "LEADER          nw-11111111\n"
          "TERM            3\n"
          "COMMIT INDEX    42\n"
          "APPLIED INDEX   41\n"
          "ANSWERED BY     nw-22222222\n"
          "\n"
          "    ID            API              PEER             ROLE      "
          "STATE         MATCH   LAG   CLOCK    LABELS\n"
          "*   nw-11111111   127.0.0.1:7070   127.0.0.1:7071   voter     "
          "healthy       42      0     0ms      rack=r1,zone=a\n"
          "    nw-22222222   127.0.0.1:7170   127.0.0.1:7171   learner   "
          "unreachable   30      12    -120ms   -\n");
  }

  TEST_CASE("render_cluster_status.stale_view_without_leader") {
    ClusterStatus s;
    s.node_id = "nw-33333333";
    s.stale = true;
    ClusterMember m;
    m.id = "nw-33333333";
    m.api_addr = "h:1";
    m.peer_addr = "h:2";
    m.role = "voter";
    m.state = "healthy";
    s.members.push_back(m);
    std::string text = nw::ctl::render_cluster_status(s);
    CHECK(text.find("CLUSTER         (not formed)\n") != std::string::npos);
    CHECK(text.find("LEADER          (none)\n") != std::string::npos);
    CHECK(text.find("nw-33333333 (stale: this agent's own view)") !=
          std::string::npos);
    // No replication progress and no clock offset in a follower's own
    // view: "-", not 0; and no leader marker.
    INFO(text);
    CHECK(text.find("\n   nw-33333333   h:1   h:2    voter   healthy   -  "
                    "     -     -       -\n") != std::string::npos);
  }

  TEST_CASE("parse_join_addrs.accepts_lists_and_several_args") {
    auto a = nw::ctl::parse_join_addrs(
        {"10.0.0.5:7071, 10.0.0.6:7071", "10.0.0.7:7071,", "10.0.0.5:7071"});
    REQUIRE(a.ok());
    CHECK(*a == std::vector<std::string>{"10.0.0.5:7071", "10.0.0.6:7071",
                                         "10.0.0.7:7071"});
    CHECK(nw::ctl::join_request_json(*a) ==
          R"({"addrs":["10.0.0.5:7071","10.0.0.6:7071","10.0.0.7:7071"]})");
  }

  TEST_CASE("parse_join_addrs.rejects_bad_or_missing_addresses") {
    auto bad = nw::ctl::parse_join_addrs({"10.0.0.5:7071,10.0.0.6"});
    REQUIRE_FALSE(bad.ok());
    CHECK(nw::exit_code(bad.error().code) == 2);
    CHECK(bad.error().message == "join: expected host:port, got '10.0.0.6'");
    CHECK(bad.error().hint.find("PEER") != std::string::npos);

    auto none = nw::ctl::parse_join_addrs({});
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().message == "join: no address given");
    CHECK_FALSE(nw::ctl::parse_join_addrs({" , "}).ok());
  }

  TEST_CASE("parse_label_args.sets_and_removes") {
    auto c = nw::ctl::parse_label_args({"rack=r1", "note=a=b", "empty="},
                                       {"zone", "zone", "os.v-2_x"});
    REQUIRE(c.ok());
    CHECK(c->set == std::map<std::string, std::string>{
                        {"rack", "r1"}, {"note", "a=b"}, {"empty", ""}});
    CHECK(c->remove == std::vector<std::string>{"zone", "os.v-2_x"});
    CHECK(nw::ctl::label_request_json(*c) ==
          R"({"remove":["zone","os.v-2_x"],"set":{"empty":"","note":"a=b",)"
          R"("rack":"r1"}})");
    auto only_remove = nw::ctl::parse_label_args({}, {"zone"});
    REQUIRE(only_remove.ok());
    CHECK(nw::ctl::label_request_json(*only_remove) ==
          R"({"remove":["zone"],"set":{}})");
  }

  TEST_CASE("parse_label_args.says_what_to_write_instead") {
    auto no_eq = nw::ctl::parse_label_args({"rack"}, {});
    REQUIRE_FALSE(no_eq.ok());
    CHECK(nw::exit_code(no_eq.error().code) == 2);
    CHECK(no_eq.error().message == "label: expected KEY=VALUE, got 'rack'");
    CHECK(no_eq.error().hint.find("--remove rack") != std::string::npos);

    auto upper = nw::ctl::parse_label_args({"Rack=r1"}, {});
    REQUIRE_FALSE(upper.ok());
    CHECK(upper.error().message.find("bad key 'Rack'") != std::string::npos);
    CHECK_FALSE(nw::ctl::parse_label_args({"=r1"}, {}).ok());
    CHECK_FALSE(
        nw::ctl::parse_label_args({std::string(64, 'k') + "=v"}, {}).ok());
    CHECK(nw::ctl::parse_label_args({std::string(63, 'k') + "=v"}, {}).ok());

    CHECK(nw::ctl::parse_label_args({"k=" + std::string(255, 'v')}, {}).ok());
    auto long_value =
        nw::ctl::parse_label_args({"k=" + std::string(256, 'v')}, {});
    REQUIRE_FALSE(long_value.ok());
    CHECK(long_value.error().message.find("256 bytes") != std::string::npos);

    auto twice = nw::ctl::parse_label_args({"a=1", "a=2"}, {});
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().message == "label: 'a' is given twice");

    auto both = nw::ctl::parse_label_args({"a=1"}, {"a"});
    REQUIRE_FALSE(both.ok());
    CHECK(both.error().message == "label: 'a' is both set and removed");

    auto remove_pair = nw::ctl::parse_label_args({}, {"zone=a"});
    REQUIRE_FALSE(remove_pair.ok());
    CHECK(remove_pair.error().message ==
          "label: --remove takes a KEY, got 'zone=a'");
    CHECK(remove_pair.error().hint == "write --remove zone");

    auto nothing = nw::ctl::parse_label_args({}, {});
    REQUIRE_FALSE(nothing.ok());
    CHECK(nothing.error().message == "label: nothing to change");
  }

  TEST_CASE("requests.bodies_and_paths") {
    CHECK(nw::ctl::remove_request_json("nw-1", true) ==
          R"({"force":true,"node_id":"nw-1"})");
    CHECK(nw::ctl::transfer_request_json("") == R"({"node_id":""})");
    CHECK(nw::ctl::label_path("nw-1a") == "/v1/cluster/nodes/nw-1a/labels");
    CHECK(nw::ctl::label_path("a/b c") == "/v1/cluster/nodes/a%2Fb%20c/labels");
    CHECK_FALSE(nw::ctl::check_node_id("remove", " ").ok());
    CHECK(nw::ctl::check_node_id("remove", "nw-1").ok());
  }

  TEST_CASE("render.answers_as_one_line") {
    CHECK(nw::ctl::render_join(
              R"({"node_id":"nw-2","cluster_id":"c-1","leader":"nw-1"})")
              .value() == "joined cluster c-1 as nw-2 (leader nw-1)\n");
    CHECK(nw::ctl::render_remove(R"({"removed":"nw-2","members":2})").value() ==
          "removed nw-2 (2 members left)\n");
    CHECK(nw::ctl::render_transfer(R"({"previous":"nw-1","leader":"nw-2"})")
              .value() == "leader: nw-1 -> nw-2\n");
    auto bad = nw::ctl::render_join(R"({"node_id":"nw-2"})");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "join: missing field \"cluster_id\"");
  }
}

TEST_SUITE("cli.cluster") {
  TEST_CASE("tree.has_every_verb_and_flag") {
    auto cli = nw::ctl::build_cli();
    auto cmds = nw::cli::flatten(*cli->app, cli->hints);
    auto find = [&](const std::string& path) -> const nw::cli::CommandInfo* {
      for (const auto& c : cmds) {
        if (c.path == path) return &c;
      }
      return nullptr;
    };
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    const auto* cluster = find("cluster");
    REQUIRE(cluster != nullptr);
    CHECK(cluster->subcommands ==
          std::vector<std::string>{"status", "join", "remove",
                                   "transfer-leader", "label"});
    REQUIRE(find("cluster status") != nullptr);
    CHECK(has(find("cluster status")->flags, "--stale"));
    REQUIRE(find("cluster remove") != nullptr);
    CHECK(has(find("cluster remove")->flags, "--force"));
    REQUIRE(find("cluster label") != nullptr);
    CHECK(has(find("cluster label")->value_options, "--remove"));
    // Global flags work after the verb too: nwctl cluster status -o json.
    CHECK(has(find("cluster status")->value_options, "--addr"));
  }

  TEST_CASE("status.json_prints_the_answer_unchanged") {
    FakeAgent agent;
    agent.answer(nw::http::Response::json(kStatusBody));
    Run r = nwctl({"--addr", agent.addr(), "-o", "json", "cluster", "status"});
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(nlohmann::json::parse(r.out) == nlohmann::json::parse(kStatusBody));
    CHECK(agent.last().path == "/v1/cluster/status");
    CHECK_FALSE(agent.last().has_param("stale"));

    Run table =
        nwctl({"--addr", agent.addr(), "-o", "table", "cluster", "status"});
    CHECK(table.code == 0);
    CHECK(table.out ==
          nw::ctl::render_cluster_status(
              nw::ctl::cluster_status_from_json(kStatusBody).value()));
  }

  TEST_CASE("status.no_leader_exits_5_and_suggests_stale") {
    FakeAgent agent;
    agent.answer(nw::http::Response::error(
        nw::Error(nw::Code::unavailable, "cluster status: no leader")));
    Run r = nwctl({"--addr", agent.addr(), "-o", "json", "cluster", "status"});
    CHECK(r.code == 5);
    CHECK(r.out.empty());
    CHECK(r.err.find("nwctl: cluster status: no leader\n") !=
          std::string::npos);
    CHECK(r.err.find("hint: ") != std::string::npos);
    CHECK(r.err.find("nwctl cluster status --stale") != std::string::npos);

    agent.answer(nw::http::Response::json(kStatusBody));
    Run stale = nwctl(
        {"--addr", agent.addr(), "-o", "json", "cluster", "status", "--stale"});
    CHECK(stale.code == 0);
    CHECK(agent.last().param("stale") == "true");
  }

  TEST_CASE("status.bad_answer_is_an_error_not_output") {
    FakeAgent agent;
    agent.answer(nw::http::Response::json(R"({"cluster_id":"c"})"));
    Run r = nwctl({"--addr", agent.addr(), "-o", "json", "cluster", "status"});
    CHECK(r.code != 0);
    CHECK(r.out.empty());
    CHECK(r.err.find("missing field") != std::string::npos);
  }

  TEST_CASE("join.posts_every_address") {
    FakeAgent agent;
    agent.answer(nw::http::Response::json(
        R"({"node_id":"nw-2","cluster_id":"c-1","leader":"nw-1"})"));
    Run r = nwctl({"--addr", agent.addr(), "-o", "table", "cluster", "join",
                   "10.0.0.5:7071,10.0.0.6:7071", "10.0.0.7:7071"});
    CHECK(r.code == 0);
    CHECK(r.out == "joined cluster c-1 as nw-2 (leader nw-1)\n");
    CHECK(agent.last().method == "POST");
    CHECK(agent.last().path == "/v1/cluster/join");
    CHECK(body_of(agent.last())["addrs"] ==
          nlohmann::json{"10.0.0.5:7071", "10.0.0.6:7071", "10.0.0.7:7071"});

    agent.answer(nw::http::Response::error(
        nw::Error(nw::Code::conflict, "join: already a member of c-9")));
    Run conflict =
        nwctl({"--addr", agent.addr(), "cluster", "join", "10.0.0.5:7071"});
    CHECK(conflict.code == 4);
  }

  TEST_CASE("join.bad_address_is_a_usage_error_before_any_request") {
    FakeAgent agent;
    Run r = nwctl({"--addr", agent.addr(), "cluster", "join", "10.0.0.5"});
    CHECK(r.code == 2);
    CHECK(r.err.find("join: expected host:port, got '10.0.0.5'") !=
          std::string::npos);
    Run none = nwctl({"--addr", agent.addr(), "cluster", "join"});
    CHECK(none.code == 2);
    CHECK(agent.requests() == 0);
  }

  TEST_CASE("remove.sends_force_and_maps_refusal_to_4") {
    FakeAgent agent;
    agent.answer(nw::http::Response::json(R"({"removed":"nw-3","members":2})"));
    Run r = nwctl({"--addr", agent.addr(), "-o", "table", "cluster", "remove",
                   "nw-3", "--force"});
    CHECK(r.code == 0);
    CHECK(r.out == "removed nw-3 (2 members left)\n");
    CHECK(agent.last().path == "/v1/cluster/remove");
    CHECK(body_of(agent.last()) ==
          nlohmann::json{{"node_id", "nw-3"}, {"force", true}});

    agent.answer(nw::http::Response::error(
        nw::Error(nw::Code::failed_precondition,
                  "remove nw-3: 1 of 2 remaining voters is healthy",
                  "add --force to remove it anyway")));
    Run refused = nwctl({"--addr", agent.addr(), "cluster", "remove", "nw-3"});
    CHECK(refused.code == 4);
    CHECK(body_of(agent.last())["force"] == false);
    CHECK(refused.err.find("hint: add --force to remove it anyway") !=
          std::string::npos);

    Run missing = nwctl({"--addr", agent.addr(), "cluster", "remove"});
    CHECK(missing.code == 2);
  }

  TEST_CASE("transfer_leader.node_id_is_optional") {
    FakeAgent agent;
    agent.answer(
        nw::http::Response::json(R"({"previous":"nw-1","leader":"nw-2"})"));
    Run any = nwctl(
        {"--addr", agent.addr(), "-o", "table", "cluster", "transfer-leader"});
    CHECK(any.code == 0);
    CHECK(any.out == "leader: nw-1 -> nw-2\n");
    CHECK(agent.last().path == "/v1/cluster/transfer-leader");
    CHECK(body_of(agent.last()) == nlohmann::json{{"node_id", ""}});

    Run named = nwctl({"--addr", agent.addr(), "-o", "json", "cluster",
                       "transfer-leader", "nw-2"});
    CHECK(named.code == 0);
    CHECK(nlohmann::json::parse(named.out)["leader"] == "nw-2");
    CHECK(body_of(agent.last()) == nlohmann::json{{"node_id", "nw-2"}});

    agent.answer(nw::http::Response::error(
        nw::Error(nw::Code::not_found, "transfer-leader: no member nw-9")));
    CHECK(nwctl({"--addr", agent.addr(), "cluster", "transfer-leader", "nw-9"})
              .code == 3);
  }

  TEST_CASE("label.puts_set_and_remove_and_prints_the_member") {
    FakeAgent agent;
    agent.answer(nw::http::Response::json(
        R"({"id":"nw-1","raft_id":5,"api_addr":"h:1","peer_addr":"h:2",
            "role":"voter","state":"healthy","leader":true,
            "labels":{"rack":"r1"}})"));
    Run r = nwctl({"--addr", agent.addr(), "-o", "table", "cluster", "label",
                   "nw-1", "rack=r1", "--remove", "zone", "--remove", "os",
                   "tier=gold"});
    CHECK(r.code == 0);
    CHECK(agent.last().method == "PUT");
    CHECK(agent.last().path == "/v1/cluster/nodes/nw-1/labels");
    CHECK(body_of(agent.last()) ==
          nlohmann::json::parse(
              R"({"set":{"rack":"r1","tier":"gold"},"remove":["zone","os"]})"));
    CHECK(r.out.find("LABELS   rack=r1\n") != std::string::npos);
    CHECK(r.out.find("ID       nw-1\n") != std::string::npos);
  }

  TEST_CASE("label.bad_pair_is_a_usage_error_before_any_request") {
    FakeAgent agent;
    Run r = nwctl({"--addr", agent.addr(), "cluster", "label", "nw-1", "rack"});
    CHECK(r.code == 2);
    CHECK(r.err.find("nwctl: label: expected KEY=VALUE, got 'rack'\n") !=
          std::string::npos);
    CHECK(nwctl({"--addr", agent.addr(), "cluster", "label", "nw-1"}).code ==
          2);
    CHECK(agent.requests() == 0);
  }
}
