// The /v1/groups routes (agent/groups/group_api.h) through a real
// http::Server on 127.0.0.1 and the project's http::Client.
#include "agent/groups/group_api.h"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/http/client.h"
#include "common/http/server.h"
#include "fake_controller.h"

namespace nw::groups {
namespace {

using nlohmann::json;
using testing::FakeController;

http::ServerOptions server_options() {
  http::ServerOptions o;
  o.listen = HostPort{"127.0.0.1", 0};
  o.threads = 2;
  return o;
}

// A coordinator over a fake controller, served on a free port.
struct Fixture {
  FakeController ctl;
  std::unique_ptr<Coordinator> coord;
  http::Server server{server_options()};
  std::unique_ptr<http::Client> client;
  std::atomic<bool> forward_all{false};
  std::atomic<int> forward_calls{0};

  Fixture() {
    ctl.add_topic("orders", 2, 0, 1300);
    coord = std::make_unique<Coordinator>(ctl.options());
    add_group_routes(
        server, *coord,
        [this](const http::Request&) -> std::optional<http::Response> {
          ++forward_calls;
          if (!forward_all) return std::nullopt;
          return http::Response::json(R"({"from":"leader"})", 200);
        });
    REQUIRE(server.bind().ok());
    server.start();
    http::ClientOptions co;
    co.timeout = std::chrono::seconds(10);
    client = std::make_unique<http::Client>(
        std::vector<http::Endpoint>{
            http::Endpoint{"http", HostPort{"127.0.0.1", server.port()}}},
        co);
  }
  ~Fixture() { server.stop(); }

  json post_ok(const std::string& path, const json& body) {
    Result<http::Response> r = client->post(path, body.dump());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().to_string()));
    if (r->status == 204) {
      CHECK(r->body.empty());
      return json();
    }
    return json::parse(r->body);
  }
  json get_ok(const std::string& path) {
    Result<http::Response> r = client->get(path);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().to_string()));
    return json::parse(r->body);
  }
  Error post_err(const std::string& path, const std::string& body) {
    Result<http::Response> r = client->post(path, body);
    REQUIRE_FALSE(r.ok());
    return r.error();
  }
};

TEST_SUITE("groups.group_api") {
  TEST_CASE("routes.member_lifecycle") {
    Fixture f;
    json j = f.post_ok("/v1/groups/g/join", {{"client_id", "c1"},
                                             {"topics", {"orders"}},
                                             {"session_timeout_ms", 9000}});
    CHECK(j["member_id"] == "m-1");
    CHECK(j["generation"] == 1);
    CHECK(j["heartbeat_interval_ms"] == 3000);
    CHECK(j["strategy"] == "range");
    CHECK(j["assignment"] ==
          json::parse(R"([{"topic":"orders","partition":0},)"
                      R"({"topic":"orders","partition":1}])"));

    json h = f.post_ok("/v1/groups/g/heartbeat",
                       {{"member_id", "m-1"}, {"generation", 1}});
    CHECK(h["generation"] == 1);
    CHECK(h["rebalance"] == false);
    CHECK(h["assignment"].size() == 2);

    Result<http::Response> c = f.client->post(
        "/v1/groups/g/offsets",
        json{{"member_id", "m-1"},
             {"generation", 1},
             {"offsets",
              {{{"topic", "orders"}, {"partition", 0}, {"offset", 1201}}}}}
            .dump());
    REQUIRE(c.ok());
    CHECK(c->status == 204);

    json o = f.get_ok("/v1/groups/g/offsets");
    CHECK(o == json::parse(R"({"group":"g","offsets":[{"topic":"orders",)"
                           R"("partition":0,"offset":1201}]})"));

    json l = f.get_ok("/v1/groups");
    REQUIRE(l["groups"].size() == 1);
    CHECK(l["groups"][0]["group"] == "g");
    CHECK(l["groups"][0]["members"] == 1);
    CHECK(l["groups"][0]["generation"] == 1);
    CHECK(l["groups"][0]["state"] == "rebalancing");

    json d = f.get_ok("/v1/groups/g");
    CHECK(d["group"] == "g");
    CHECK(d["strategy"] == "range");
    CHECK(d["members"][0]["member_id"] == "m-1");
    CHECK(d["members"][0]["client_id"] == "c1");
    CHECK(d["members"][0]["assignment"].size() == 2);
    CHECK(d["offsets"][0]["committed"] == 1201);
    CHECK(d["offsets"][0]["high_watermark"] == 1300);
    CHECK(d["offsets"][0]["lag"] == 99);
    CHECK(d["offsets"][0]["member_id"] == "m-1");

    Error busy = f.client->del("/v1/groups/g").error();
    CHECK(busy.code == Code::failed_precondition);
    CHECK_FALSE(busy.hint.empty());

    CHECK(f.post_ok("/v1/groups/g/leave", {{"member_id", "m-1"}}).is_null());
    json e = f.get_ok("/v1/groups");
    CHECK(e["groups"][0]["state"] == "empty");
    Result<http::Response> del = f.client->del("/v1/groups/g");
    REQUIRE(del.ok());
    CHECK(del->status == 204);
    CHECK(f.client->get("/v1/groups/g").error().code == Code::not_found);
    CHECK(f.get_ok("/v1/groups")["groups"].empty());
  }

  TEST_CASE("routes.rebalance_and_stale_commit") {
    Fixture f;
    f.post_ok("/v1/groups/g/join", {{"topics", {"orders"}}});
    json b = f.post_ok("/v1/groups/g/join",
                       {{"topics", {"orders"}}, {"strategy", "roundrobin"}});
    CHECK(b["generation"] == 2);
    CHECK(b["strategy"] == "range");
    json h = f.post_ok("/v1/groups/g/heartbeat",
                       {{"member_id", "m-1"}, {"generation", 1}});
    CHECK(h["rebalance"] == true);
    CHECK(h["generation"] == 2);
    CHECK(h["assignment"].size() == 1);
    Error stale = f.post_err(
        "/v1/groups/g/offsets",
        R"({"member_id":"m-1","generation":1,)"
        R"("offsets":[{"topic":"orders","partition":0,"offset":5}]})");
    CHECK(stale.code == Code::conflict);
    Error no_member = f.post_err(
        "/v1/groups/g/offsets",
        R"({"offsets":[{"topic":"orders","partition":0,"offset":5}]})");
    CHECK(no_member.code == Code::failed_precondition);
  }

  TEST_CASE("routes.refuse_bad_input_with_hints") {
    Fixture f;
    Error e =
        f.post_err("/v1/groups/bad!name/join", R"({"topics":["orders"]})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.hint.find("A-Z") != std::string::npos);

    e = f.post_err("/v1/groups/g/join",
                   R"({"topics":["orders"],"session_timeout_ms":10})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.hint.find("1000") != std::string::npos);

    e = f.post_err("/v1/groups/g/join",
                   R"({"topics":["orders"],"strategy":"sticky"})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.hint.find("roundrobin") != std::string::npos);

    e = f.post_err("/v1/groups/g/join", "not json");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.hint.find("topics") != std::string::npos);

    e = f.post_err("/v1/groups/g/join", R"({"topics":"orders"})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.message.find("topics") != std::string::npos);

    e = f.post_err("/v1/groups/g/join", R"({"topics":["nope"]})");
    CHECK(e.code == Code::not_found);

    e = f.post_err("/v1/groups/g/heartbeat",
                   R"({"member_id":"m-9","generation":1})");
    CHECK(e.code == Code::not_found);
    CHECK(e.hint.find("rejoin") != std::string::npos);

    e = f.post_err("/v1/groups/g/offsets",
                   R"({"member_id":"m-9","offsets":[]})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.message.find("generation") != std::string::npos);

    e = f.post_err("/v1/groups/g/offsets",
                   R"({"offsets":[{"topic":"orders","partition":-1,)"
                   R"("offset":5}]})");
    CHECK(e.code == Code::invalid_argument);

    e = f.post_err("/v1/groups/g/offsets",
                   R"({"offsets":[{"topic":"orders","offset":5}]})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.message.find("partition") != std::string::npos);

    e = f.post_err("/v1/groups/g/reset-offsets",
                   R"({"topic":"orders","to":"offset"})");
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.message.find("value") != std::string::npos);

    e = f.post_err("/v1/groups/g/reset-offsets",
                   R"({"topic":"orders","to":"yesterday"})");
    CHECK(e.code == Code::invalid_argument);
  }

  TEST_CASE("routes.reset_offsets_plan_then_execute") {
    Fixture f;
    f.ctl.set_offset("g", "orders", 0, 1201);
    json plan = f.post_ok("/v1/groups/g/reset-offsets",
                          {{"topic", "orders"}, {"to", "earliest"}});
    CHECK(plan ==
          json::parse(R"({"executed":false,"plan":[)"
                      R"({"topic":"orders","partition":0,"current":1201,)"
                      R"("new":0},{"topic":"orders","partition":1,)"
                      R"("current":null,"new":0}]})"));
    CHECK(f.ctl.offsets("g").at({"orders", 0}) == 1201);
    Error e = f.post_err("/v1/groups/g/reset-offsets",
                         R"({"to":"shift","value":-1,"execute":true})");
    CHECK(e.code == Code::failed_precondition);  // partition 1: no offset
    f.ctl.set_offset("g", "orders", 1, 10);
    json done = f.post_ok("/v1/groups/g/reset-offsets",
                          {{"to", "shift"}, {"value", -1}, {"execute", true}});
    CHECK(done["executed"] == true);
    CHECK(f.ctl.offsets("g").at({"orders", 0}) == 1200);
    CHECK(f.ctl.offsets("g").at({"orders", 1}) == 9);
  }

  TEST_CASE("routes.forward_answers_first") {
    Fixture f;
    f.forward_all = true;
    for (const std::string path :
         {"/v1/groups", "/v1/groups/g", "/v1/groups/g/offsets"}) {
      CHECK(f.get_ok(path) == json{{"from", "leader"}});
    }
    CHECK(f.post_ok("/v1/groups/g/join", {{"topics", {"orders"}}}) ==
          json{{"from", "leader"}});
    CHECK(f.forward_calls == 4);
    f.forward_all = false;
    // Nothing reached the local coordinator.
    CHECK(f.get_ok("/v1/groups")["groups"].empty());
  }
}

}  // namespace
}  // namespace nw::groups
