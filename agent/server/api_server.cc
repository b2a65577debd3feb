#include "agent/server/api_server.h"

#include "agent/metrics/exposition.h"
#include "agent/metrics/registry.h"
#include "common/api/json.h"
#include "common/base/log.h"

namespace nw::server {
namespace {
const log::Logger kLog("api");
}  // namespace

ApiServer::ApiServer(http::ServerOptions options, metrics::Registry& registry,
                     Providers providers)
    : options_(options),
      registry_(registry),
      providers_(std::move(providers)),
      server_(options) {
  auto& requests = registry_.counter("nw_http_requests_total",
                                     "HTTP API requests answered, by route, "
                                     "method and status code",
                                     {"route", "method", "code"});
  auto& latency = registry_.histogram(
      "nw_http_request_duration_seconds",
      "Time from reading a request to writing its response, by route and "
      "method",
      {"route", "method"});
  server_.set_observer([&requests, &latency](const http::RequestRecord& r) {
    requests.with({r.route, r.method, std::to_string(r.status)}).inc();
    latency.with({r.route, r.method}).observe(r.seconds);
  });
  add_routes();
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::add_routes() {
  server_.route("GET", "/v1/status", "/v1/status",
                [this](const http::Request&) {
                  return http::Response::json(
                      api::to_body(api::to_json(providers_.status())));
                });
  server_.route("GET", "/v1/health/live", "/v1/health/live",
                [](const http::Request&) {
                  return http::Response::json(
                      api::to_body(api::to_json(api::HealthInfo{"ok", {}})));
                });
  server_.route("GET", "/v1/health/ready", "/v1/health/ready",
                [this](const http::Request&) {
                  api::HealthInfo h = providers_.readiness();
                  return http::Response::json(api::to_body(api::to_json(h)),
                                              h.status == "ready" ? 200 : 503);
                });
  server_.route("GET", "/metrics", "/metrics", [this](const http::Request&) {
    return http::Response::text(registry_.render(),
                                std::string(metrics::kContentType));
  });
}

Status ApiServer::start() {
  NW_RETURN_IF_ERROR(server_.bind());
  server_.start();
  kLog.info("listening", {{"addr", address()}});
  return ok_status();
}

void ApiServer::stop() { server_.stop(); }

std::string ApiServer::address() const {
  HostPort hp = options_.listen;
  hp.port = server_.port();
  return hp.to_string();
}

}  // namespace nw::server
