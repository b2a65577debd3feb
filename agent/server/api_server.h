#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/service/service.h"
#include "common/api/types.h"
#include "common/http/server.h"

namespace nw::metrics {
class Registry;
}

namespace nw::server {

// The agent's HTTP API under /v1/ plus /metrics. Owns the http::Server;
// the agent's subsystems add their routes through http() before start.
// Every request is counted and timed into the metrics registry by route
// label, method and status.
//
// Lifecycle: construct, register routes, start() (binds and serves; fails
// if the port is taken), stop() (in-flight requests finish). Handlers run on
// the server's pool threads, so the providers must be thread-safe.
class ApiServer final : public service::Service {
 public:
  struct Providers {
    std::function<api::StatusInfo()> status;
    std::function<api::HealthInfo()> readiness;
  };

  ApiServer(http::ServerOptions options, metrics::Registry& registry,
            Providers providers);
  ~ApiServer() override;

  std::string_view name() const override { return "api"; }
  Status start() override;
  void stop() override;

  http::Server& http() { return server_; }
  // The bound address (meaningful after start()).
  std::string address() const;

 private:
  void add_routes();

  http::ServerOptions options_;
  metrics::Registry& registry_;
  Providers providers_;
  http::Server server_;
};

}  // namespace nw::server
