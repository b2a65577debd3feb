#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/service/service.h"
#include "common/base/units.h"

namespace nw::service {

// One service as readiness reports it.
struct ServiceState {
  std::string name;
  bool running = false;  // started, not stopped, and its work still going
};

// Owns the agent's services and starts and stops them in order, so that a
// service may rely on those added before it for its whole life.
//
// Lifecycle: one per agent, owned by it and passed to whoever needs it
// (never a singleton). add() every service, start_all(), and at shutdown
// stop_all(grace). The destructor stops what is still running (with
// kDefaultStopGrace).
// Threads: add(), start_all() and stop_all() from the owning thread, one at
// a time; states() from any thread (the readiness endpoint).
class ServiceManager {
 public:
  // The grace for stops the manager does on its own: rolling back a failed
  // start_all() and destruction.
  static constexpr Duration kDefaultStopGrace = std::chrono::seconds(10);

  ServiceManager() = default;
  ~ServiceManager();
  ServiceManager(const ServiceManager&) = delete;
  ServiceManager& operator=(const ServiceManager&) = delete;

  // Adds a service, to be started after those added before it.
  // REQUIRES (NW_ASSERT): non-null; a name no other service has.
  void add(std::unique_ptr<Service> service);

  // Starts the services not running yet, in the order they were added. If
  // one fails, stops those this call started, in reverse order, and
  // returns its error with "service <name>: " before the message.
  Status start_all();

  // Stops every running service in reverse order, logging each and how long
  // it took. `grace` is per service: one that has not stopped by then is
  // logged as overrunning, and then still waited for, since a thread cannot
  // be killed and the services after it (in stop order) may depend on it;
  // the process supervisor's own stop timeout is the last resort.
  void stop_all(Duration grace);

  // Every service in order of addition.
  std::vector<ServiceState> states() const;

 private:
  struct Entry {
    std::unique_ptr<Service> service;
    bool started = false;  // guarded by mu_
  };

  // Stops one service, waiting up to `grace` before logging the overrun.
  static void stop_one(Service& service, Duration grace);

  mutable std::mutex mu_;  // guards `started` flags for states()
  // Only add() changes the vector, from the owning thread; states() reads
  // it under mu_, so add() takes mu_ too.
  std::vector<Entry> entries_;
};

}  // namespace nw::service
