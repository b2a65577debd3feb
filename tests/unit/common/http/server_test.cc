#include "common/http/server.h"

#include <doctest/doctest.h>

#include <algorithm>

#include <atomic>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/api/error_body.h"
#include "common/http/client.h"
#include "test_util.h"

namespace nw::http {
namespace {

using testing::client_options;
using testing::Gate;
using testing::local_endpoint;
using testing::local_options;
using testing::wait_until;

// A started server with a client pointed at it.
struct Fixture {
  Server server;
  std::unique_ptr<Client> client;

  explicit Fixture(ServerOptions options = local_options())
      : server(std::move(options)) {}

  void start() {
    REQUIRE(server.bind().ok());
    server.start();
    client = std::make_unique<Client>(
        std::vector<Endpoint>{local_endpoint(server.port())}, client_options());
  }
};

// Records what the observer sees. Thread-safe.
struct Records {
  std::mutex mu;
  std::vector<RequestRecord> list;

  void add(const RequestRecord& r) {
    std::lock_guard<std::mutex> lock(mu);
    list.push_back(r);
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return list.size();
  }
  std::vector<RequestRecord> copy() {
    std::lock_guard<std::mutex> lock(mu);
    return list;
  }
};

}  // namespace

TEST_SUITE("http.server") {
  TEST_CASE("server.get_and_post_round_trip") {
    Fixture f;
    f.server.route("GET", "/v1/hello", "/v1/hello", [](const Request&) {
      return Response::json(R"({"hello":"world"})");
    });
    f.server.route("POST", "/v1/echo", "/v1/echo", [](const Request& r) {
      Response resp = Response::text(r.body, "application/octet-stream", 201);
      resp.headers.emplace_back("X-Echo-Method", r.method);
      return resp;
    });
    f.start();

    auto get = f.client->get("/v1/hello");
    REQUIRE(get.ok());
    CHECK(get->status == 200);
    CHECK(get->content_type == "application/json");
    CHECK(nlohmann::json::parse(get->body)["hello"] == "world");

    std::string payload(100000, 'p');
    payload += "\x00\xff end";
    auto post = f.client->post("/v1/echo", payload, "application/octet-stream");
    REQUIRE(post.ok());
    CHECK(post->status == 201);
    CHECK(post->body == payload);
    CHECK(post->header("x-echo-method") == "POST");
  }

  TEST_CASE("server.put_and_delete") {
    Fixture f;
    f.server.route(
        "PUT", "/v1/things/([^/]+)", "/v1/things/{name}", [](const Request& r) {
          return Response::json(
              nlohmann::json{{"put", r.matches[1]}, {"body", r.body}}.dump());
        });
    f.server.route("DELETE", "/v1/things/([^/]+)", "/v1/things/{name}",
                   [](const Request& r) {
                     return Response::json(
                         nlohmann::json{{"deleted", r.matches[1]}}.dump());
                   });
    f.start();
    auto put = f.client->put("/v1/things/a", R"({"x":1})");
    REQUIRE(put.ok());
    CHECK(nlohmann::json::parse(put->body)["put"] == "a");
    CHECK(nlohmann::json::parse(put->body)["body"] == R"({"x":1})");
    auto del = f.client->del("/v1/things/b");
    REQUIRE(del.ok());
    CHECK(nlohmann::json::parse(del->body)["deleted"] == "b");
  }

  TEST_CASE("route.captures_and_query_params") {
    Fixture f;
    f.server.route(
        "GET", "/v1/topics/([^/]+)/partitions/([0-9]+)",
        "/v1/topics/{name}/partitions/{id}", [](const Request& r) {
          nlohmann::json j = {
              {"matches", r.matches},      {"from", r.param("from")},
              {"missing", r.param("x")},   {"has_flag", r.has_param("flag")},
              {"has_x", r.has_param("x")}, {"path", r.path}};
          return Response::json(j.dump());
        });
    f.start();
    auto r =
        f.client->get("/v1/topics/orders%2Deu/partitions/3?from=10%2C20&flag");
    REQUIRE(r.ok());
    auto j = nlohmann::json::parse(r->body);
    CHECK(j["matches"] == nlohmann::json::array({"/v1/topics/orders-eu/"
                                                 "partitions/3",
                                                 "orders-eu", "3"}));
    CHECK(j["from"] == "10,20");
    CHECK(j["missing"] == "");
    CHECK(j["has_flag"] == true);
    CHECK(j["has_x"] == false);
    CHECK(j["path"] == "/v1/topics/orders-eu/partitions/3");

    // The regex must match the whole path.
    auto partial = f.client->get("/v1/topics/a/partitions/3/extra");
    REQUIRE_FALSE(partial.ok());
    CHECK(partial.error().code == Code::not_found);
  }

  TEST_CASE("route.first_match_wins") {
    Fixture f;
    f.server.route("GET", "/v1/topics/_list", "/v1/topics/_list",
                   [](const Request&) { return Response::text("list"); });
    f.server.route("GET", "/v1/topics/([^/]+)", "/v1/topics/{name}",
                   [](const Request&) { return Response::text("one"); });
    f.start();
    CHECK(f.client->get("/v1/topics/_list")->body == "list");
    CHECK(f.client->get("/v1/topics/x")->body == "one");
  }

  TEST_CASE("handler.throw_answers_500_internal") {
    Fixture f;
    f.server.route("GET", "/v1/boom", "/v1/boom",
                   [](const Request&) -> Response {
                     throw std::runtime_error("secret detail");
                   });
    f.server.route("GET", "/v1/boom2", "/v1/boom2",
                   [](const Request&) -> Response { throw 42; });
    f.server.route("GET", "/v1/ok", "/v1/ok",
                   [](const Request&) { return Response::text("fine"); });
    f.start();
    for (const char* path : {"/v1/boom", "/v1/boom2"}) {
      CAPTURE(path);
      auto r = f.client->get(path);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::internal);
      CHECK(r.error().message ==
            std::string("internal error handling GET ") + path);
      CHECK(r.error().message.find("secret") == std::string::npos);
      CHECK_FALSE(r.error().hint.empty());
    }
    // The server keeps serving.
    CHECK(f.client->get("/v1/ok")->body == "fine");
  }

  TEST_CASE("handler.error_response_is_decoded_by_the_client") {
    Fixture f;
    f.server.route("POST", "/v1/topics", "/v1/topics", [](const Request&) {
      return Response::error(Error(Code::conflict,
                                   "create topic \"orders\": exists already",
                                   "pick another name or delete it first"));
    });
    f.start();
    auto r = f.client->post("/v1/topics", R"({"name":"orders"})");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::conflict);
    CHECK(r.error().message == "create topic \"orders\": exists already");
    CHECK(r.error().hint == "pick another name or delete it first");
  }

  TEST_CASE("routing.unknown_path_answers_404") {
    Fixture f;
    f.server.route("GET", "/v1/status", "/v1/status",
                   [](const Request&) { return Response::json("{}"); });
    f.start();
    auto r = f.client->get("/x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::not_found);
    CHECK(r.error().message == "no route GET /x");
    CHECK(r.error().hint == "see docs/api.md for the API");

    // A known path with another method names the methods it accepts.
    auto wrong = f.client->del("/v1/status");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Code::not_found);
    CHECK(wrong.error().message == "no route DELETE /v1/status");
    CHECK(wrong.error().hint ==
          "/v1/status accepts GET; see docs/api.md for the API");
  }

  TEST_CASE("limits.body_over_max_answers_413") {
    ServerOptions o = local_options();
    o.max_body_size = 1024;
    Fixture f(o);
    Records records;
    f.server.set_observer([&](const RequestRecord& r) { records.add(r); });
    f.server.route("POST", "/v1/upload", "/v1/upload", [](const Request& r) {
      return Response::json(nlohmann::json{{"size", r.body.size()}}.dump());
    });
    f.start();

    auto small = f.client->post("/v1/upload", std::string(1024, 'a'));
    REQUIRE(small.ok());
    CHECK(nlohmann::json::parse(small->body)["size"] == 1024);

    auto big = f.client->post("/v1/upload", std::string(4096, 'a'));
    REQUIRE_FALSE(big.ok());
    CHECK(big.error().code == Code::invalid_argument);
    CHECK(big.error().message == "request body too large: the limit is 1KiB");
    CHECK_FALSE(big.error().hint.empty());

    REQUIRE(wait_until([&] { return records.size() == 2; }));
    // The observer runs after each response is sent, so the two records
    // may arrive in either order.
    auto list = records.copy();
    std::sort(list.begin(), list.end(),
              [](const auto& a, const auto& b) { return a.status < b.status; });
    CHECK(list[0].status == 200);
    CHECK(list[0].route == "/v1/upload");
    CHECK(list[1].status == 413);
    CHECK(list[1].route == "unmatched");
  }

  TEST_CASE("limits.long_uri_answers_414") {
    Fixture f;
    f.start();
    auto r = f.client->get("/v1/" + std::string(9000, 'a'));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::invalid_argument);
    CHECK(r.error().message == "request URI too long");
  }

  TEST_CASE("limits.malformed_request_answers_400_with_error_body") {
    Fixture f;
    f.start();
    std::string reply =
        testing::raw_exchange(f.server.port(), "NONSENSE\r\n\r\n");
    CAPTURE(reply);
    CHECK(reply.starts_with("HTTP/1.1 400 "));
    size_t body = reply.find("\r\n\r\n");
    REQUIRE(body != std::string::npos);
    Error e = api::error_from_body(400, reply.substr(body + 4));
    CHECK(e.code == Code::invalid_argument);
    CHECK(e.message == "malformed HTTP request");
  }

  TEST_CASE("routing.head_is_routed_as_get") {
    Fixture f;
    f.server.route("GET", "/metrics", "/metrics", [](const Request&) {
      return Response::text("m 1\n", "text/plain; version=0.0.4", 200);
    });
    f.start();
    std::string reply = testing::raw_exchange(
        f.server.port(),
        "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CAPTURE(reply);
    CHECK(reply.starts_with("HTTP/1.1 200 "));
    CHECK(reply.find("text/plain; version=0.0.4") != std::string::npos);
    CHECK(reply.ends_with("\r\n\r\n"));  // headers only
  }

  TEST_CASE("observer.sees_route_labels_and_statuses") {
    Fixture f;
    Records records;
    f.server.set_observer([&](const RequestRecord& r) { records.add(r); });
    f.server.route(
        "GET", "/v1/topics/([^/]+)", "/v1/topics/{name}", [](const Request& r) {
          if (r.matches[1] == "missing") {
            return Response::error(Error(Code::not_found, "topic not found"));
          }
          return Response::json("{}");
        });
    f.server.route(
        "GET", "/v1/boom", "/v1/boom",
        [](const Request&) -> Response { throw std::logic_error("bug"); });
    f.start();
    CHECK(f.client->get("/v1/topics/a").ok());
    CHECK_FALSE(f.client->get("/v1/topics/missing").ok());
    CHECK_FALSE(f.client->get("/nope").ok());
    CHECK_FALSE(f.client->get("/v1/boom").ok());
    CHECK(f.client->post("/v1/topics/a", "{}").error().code == Code::not_found);

    // The observer runs after the response is written, on whichever pool
    // thread wrote it: wait for all five, and compare them in any order.
    REQUIRE(wait_until([&] { return records.size() == 5; }));
    std::multiset<std::tuple<std::string, std::string, int>> got, want;
    for (const RequestRecord& r : records.copy()) {
      got.emplace(r.method, r.route, r.status);
      CHECK(r.seconds >= 0);
    }
    want = {{"GET", "/v1/topics/{name}", 200},
            {"GET", "/v1/topics/{name}", 404},
            {"GET", "unmatched", 404},
            {"GET", "/v1/boom", 500},
            {"POST", "unmatched", 404}};
    CHECK(got == want);
  }

  TEST_CASE("observer.exception_is_contained") {
    Fixture f;
    std::atomic<int> calls{0};
    f.server.set_observer([&](const RequestRecord&) {
      ++calls;
      throw std::runtime_error("observer bug");
    });
    f.server.route("GET", "/v1/ok", "/v1/ok",
                   [](const Request&) { return Response::text("ok"); });
    f.start();
    CHECK(f.client->get("/v1/ok").ok());
    CHECK(f.client->get("/v1/ok").ok());
    CHECK(wait_until([&] { return calls.load() == 2; }));
  }

  TEST_CASE("request.headers_and_remote_addr") {
    Fixture f;
    f.server.route("GET", "/v1/whoami", "/v1/whoami", [](const Request& r) {
      return Response::json(nlohmann::json{{"remote", r.remote_addr},
                                           {"ua", r.header("user-agent")},
                                           {"absent", r.header("x-absent")}}
                                .dump());
    });
    f.start();
    auto r = f.client->get("/v1/whoami");
    REQUIRE(r.ok());
    auto j = nlohmann::json::parse(r->body);
    CHECK(j["remote"] == "127.0.0.1");
    CHECK(j["ua"].get<std::string>().starts_with("nwctl/"));
    CHECK(j["absent"] == "");
  }

  TEST_CASE("stop.lets_a_request_in_flight_finish") {
    Fixture f;
    Gate entered, release;
    f.server.route("POST", "/v1/slow", "/v1/slow", [&](const Request& r) {
      entered.open();
      release.wait(std::chrono::seconds(30));
      return Response::json(r.body);
    });
    f.start();
    auto request = std::async(std::launch::async, [&] {
      Client c({local_endpoint(f.server.port())}, client_options());
      return c.post("/v1/slow", R"({"done":true})");
    });
    REQUIRE(entered.wait(std::chrono::seconds(10)));

    auto stopper = std::async(std::launch::async, [&] { f.server.stop(); });
    // running() turns false once the listening socket is closed; the
    // handler is still blocked then.
    REQUIRE(wait_until([&] { return !f.server.running(); }));
    CHECK(stopper.wait_for(std::chrono::milliseconds(0)) !=
          std::future_status::ready);
    // New connections are refused from now on.
    auto refused = f.client->get("/v1/slow");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Code::unavailable);

    release.open();
    auto r = request.get();
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == R"({"done":true})");
    stopper.get();
  }

  TEST_CASE("stop.idempotent_and_safe_unstarted") {
    {
      Server never_bound(local_options());
      never_bound.stop();
      never_bound.stop();
    }
    Fixture f;
    f.start();
    CHECK(f.server.running());
    f.server.stop();
    CHECK_FALSE(f.server.running());
    f.server.stop();
  }

  TEST_CASE("stop.unstarted_server_releases_its_port") {
    std::uint16_t port = 0;
    {
      Server s(local_options());
      REQUIRE(s.bind().ok());
      port = s.port();
      CHECK(port != 0);
    }
    ServerOptions o = local_options();
    o.listen.port = port;
    Server again(o);
    CHECK(again.bind().ok());
  }

  TEST_CASE("bind.address_in_use") {
    Server first(local_options());
    REQUIRE(first.bind().ok());
    first.start();
    ServerOptions o = local_options();
    o.listen.port = first.port();
    Server second(o);
    Status s = second.bind();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::io_error);
    CHECK(s.error().message ==
          "listen on 127.0.0.1:" + std::to_string(first.port()) +
              ": address already in use");
    CHECK(s.error().hint ==
          "another process holds the port: stop it or pick another with "
          "--api-listen (api.listen)");
  }

  TEST_CASE("bind.address_not_available") {
    ServerOptions o = local_options();
    o.listen.host = "192.0.2.1";  // TEST-NET-1: not an address of this host
    Server s(o);
    Status st = s.bind();
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Code::io_error);
    CHECK(st.error().message == "listen on 192.0.2.1:0: address not available");
    CHECK_FALSE(st.error().hint.empty());
  }
}

}  // namespace nw::http
