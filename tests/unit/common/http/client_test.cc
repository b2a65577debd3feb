#include "common/http/client.h"

#include <doctest/doctest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/http/server.h"
#include "test_util.h"

namespace nw::http {
namespace {

using testing::client_options;
using testing::ClosedPort;
using testing::Gate;
using testing::local_endpoint;
using testing::local_options;

// A started server on a free port that counts its requests and answers
// GET/POST /v1/who with its name.
struct Agent {
  std::string name;
  std::atomic<int> requests{0};
  Server server;

  explicit Agent(std::string n, ServerOptions o = local_options())
      : name(std::move(n)), server(std::move(o)) {
    auto who = [this](const Request&) {
      ++requests;
      return Response::json(nlohmann::json{{"name", name}}.dump());
    };
    server.route("GET", "/v1/who", "/v1/who", who);
    server.route("POST", "/v1/who", "/v1/who", who);
    server.route("POST", "/v1/fail", "/v1/fail", [this](const Request&) {
      ++requests;
      return Response::error(Error(Code::unavailable, name + ": no leader"));
    });
    REQUIRE(server.bind().ok());
    server.start();
  }
  Endpoint endpoint() const { return local_endpoint(server.port()); }
};

std::string who(const Result<Response>& r) {
  REQUIRE(r.ok());
  return nlohmann::json::parse(r->body)["name"].get<std::string>();
}

}  // namespace

TEST_SUITE("http.client") {
  TEST_CASE("errors.unavailable_on_a_closed_port") {
    ClosedPort closed;
    Client c({local_endpoint(closed.port())}, client_options());
    auto r = c.get("/v1/status");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message ==
          "no agent at 127.0.0.1:" + std::to_string(closed.port()) +
              ": connection refused");
    CHECK(r.error().hint == "is nwagent running? set --addr or NW_ADDR");
  }

  TEST_CASE("errors.unavailable_lists_every_endpoint") {
    ClosedPort a, b;
    Client c({local_endpoint(a.port()), local_endpoint(b.port())},
             client_options());
    auto r = c.post("/v1/x", "{}");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message ==
          "no agent answered at 127.0.0.1:" + std::to_string(a.port()) +
              ", 127.0.0.1:" + std::to_string(b.port()) +
              ": connection refused");
    CHECK(r.error().hint == "is nwagent running? set --addr or NW_ADDR");
  }

  TEST_CASE("failover.moves_past_a_dead_endpoint") {
    ClosedPort dead;
    Agent live("live");
    Client c({local_endpoint(dead.port()), live.endpoint()}, client_options());
    CHECK(c.current() == local_endpoint(dead.port()));
    CHECK(who(c.get("/v1/who")) == "live");
    CHECK(c.current() == live.endpoint());
    CHECK(who(c.post("/v1/who", "{}")) == "live");
    CHECK(live.requests.load() == 2);
  }

  TEST_CASE("failover.starts_with_the_endpoint_that_answered_last") {
    auto a = std::make_unique<Agent>("a");
    Agent b("b");
    std::uint16_t a_port = a->server.port();
    Client c({a->endpoint(), b.endpoint()}, client_options());
    CHECK(who(c.get("/v1/who")) == "a");

    a.reset();  // a goes away: the client moves on to b
    CHECK(who(c.get("/v1/who")) == "b");

    // a comes back on its port, but the client stays with b.
    ServerOptions o = local_options();
    o.listen.port = a_port;
    Agent a2("a2", o);
    CHECK(who(c.get("/v1/who")) == "b");
    CHECK(a2.requests.load() == 0);
    CHECK(c.current() == b.endpoint());
  }

  TEST_CASE("failover.http_errors_are_final") {
    Agent first("first");
    Agent second("second");
    Client c({first.endpoint(), second.endpoint()}, client_options());
    auto r = c.post("/v1/fail", "{}");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message == "first: no leader");
    CHECK(first.requests.load() == 1);
    CHECK(second.requests.load() == 0);  // the POST was not sent twice
  }

  TEST_CASE("errors.timeout_with_a_slow_handler") {
    Server server(local_options());
    Gate release;
    server.route("GET", "/v1/slow", "/v1/slow", [&](const Request&) {
      release.wait(std::chrono::seconds(30));
      return Response::json("{}");
    });
    REQUIRE(server.bind().ok());
    server.start();
    Client c({local_endpoint(server.port())},
             client_options(std::chrono::milliseconds(200)));
    auto r = c.get("/v1/slow");
    release.open();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::timeout);
    CHECK(r.error().message ==
          "request to 127.0.0.1:" + std::to_string(server.port()) +
              " timed out after 200ms");
    CHECK(r.error().hint == "raise --timeout or check the agent's load");
  }

  TEST_CASE("request.sends_bearer_token_and_user_agent") {
    Server server(local_options());
    server.route("GET", "/v1/headers", "/v1/headers", [](const Request& r) {
      return Response::json(
          nlohmann::json{{"authorization", r.header("Authorization")},
                         {"user_agent", r.header("User-Agent")}}
              .dump());
    });
    REQUIRE(server.bind().ok());
    server.start();

    ClientOptions o = client_options();
    o.token = "s3cr3t.token";
    o.user_agent = "nwctl/test";
    Client with_token({local_endpoint(server.port())}, o);
    auto r = with_token.get("/v1/headers");
    REQUIRE(r.ok());
    auto j = nlohmann::json::parse(r->body);
    CHECK(j["authorization"] == "Bearer s3cr3t.token");
    CHECK(j["user_agent"] == "nwctl/test");

    Client without({local_endpoint(server.port())}, client_options());
    auto r2 = without.get("/v1/headers");
    REQUIRE(r2.ok());
    CHECK(nlohmann::json::parse(r2->body)["authorization"] == "");
  }

  TEST_CASE("errors.non_json_error_body") {
    Server server(local_options());
    server.route("GET", "/v1/proxy", "/v1/proxy", [](const Request&) {
      return Response::text("<html>bad gateway</html>", "text/html", 502);
    });
    REQUIRE(server.bind().ok());
    server.start();
    Client c({local_endpoint(server.port())}, client_options());
    auto r = c.get("/v1/proxy");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message == "HTTP 502: <html>bad gateway</html>");
  }

  TEST_CASE("tls.handshake_with_a_plain_http_agent_fails") {
    Agent plain("plain");
    Endpoint ep = plain.endpoint();
    ep.scheme = "https";
    Client c({ep}, client_options());
    auto r = c.get("/v1/who");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message ==
          "no agent at https://127.0.0.1:" + std::to_string(ep.addr.port) +
              ": TLS handshake failed");
    CHECK(r.error().hint.find("--ca-cert") != std::string::npos);
  }

  TEST_CASE("tls.unreadable_ca_cert") {
    Agent plain("plain");
    Endpoint ep = plain.endpoint();
    ep.scheme = "https";
    ClientOptions o = client_options();
    o.ca_cert = "/nonexistent/ca.pem";
    Client c({ep}, o);
    auto r = c.get("/v1/who");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
    CHECK(r.error().message ==
          "cannot load the CA certificate \"/nonexistent/ca.pem\"");
    CHECK(r.error().hint.find("--ca-cert") != std::string::npos);
  }
}

}  // namespace nw::http
