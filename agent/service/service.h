#pragma once

#include <string_view>

#include "common/base/result.h"

namespace nw::service {

// A long-running part of the agent (API server, scheduler, health checker,
// replication fetchers): something that is started once and stopped once,
// owned by the ServiceManager.
//
// Lifecycle: constructed, added to a ServiceManager, start(), stop(),
// destroyed. Threads: the manager calls start() and stop() one at a time
// (stop() possibly from a helper thread of its own); implementations
// synchronize their own work threads.
class Service {
 public:
  virtual ~Service() = default;

  // A short, stable name for logs and readiness ("api", "scheduler").
  virtual std::string_view name() const = 0;
  // Starts the work and returns once it runs (a port is bound, a thread is
  // up). On error the service must be left stopped, having cleaned up
  // after itself: the manager does not call stop() for it.
  virtual Status start() = 0;
  // Stops the work and returns once it has stopped. Blocks for as long as
  // that takes: the manager can only wait (threads cannot be killed).
  // Idempotent; also called for a service that failed to start elsewhere.
  virtual void stop() = 0;
  // Whether the work is still going, between start() and stop(). A service
  // whose work can end on its own (a loop that failed) overrides this so
  // readiness shows it.
  virtual bool running() const { return true; }
};

}  // namespace nw::service
