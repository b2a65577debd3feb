#include "agent/service/service_manager.h"

#include <condition_variable>
#include <thread>

#include "common/base/assert.h"
#include "common/base/log.h"
#include "common/base/time.h"

namespace nw::service {
namespace {

const log::Logger kLog("service");

std::int64_t millis_since(MonoTime start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(mono_now() -
                                                               start)
      .count();
}

}  // namespace

ServiceManager::~ServiceManager() { stop_all(kDefaultStopGrace); }

void ServiceManager::add(std::unique_ptr<Service> service) {
  NW_ASSERT(service != nullptr, "ServiceManager::add(nullptr)");
  std::lock_guard lock(mu_);
  for (const Entry& e : entries_) {
    NW_ASSERT(e.service->name() != service->name(),
              "two services with the same name");
  }
  entries_.push_back(Entry{std::move(service), false});
}

Status ServiceManager::start_all() {
  std::vector<Entry*> started_now;
  for (Entry& e : entries_) {
    {
      std::lock_guard lock(mu_);
      if (e.started) continue;
    }
    Service& s = *e.service;
    const std::string name(s.name());
    kLog.info("starting service", {{"service", name}});
    MonoTime begin = mono_now();
    Status st = s.start();
    if (!st.ok()) {
      kLog.error("service failed to start",
                 {{"service", name}, {"error", st.error().to_string()}});
      for (auto it = started_now.rbegin(); it != started_now.rend(); ++it) {
        stop_one(*(*it)->service, kDefaultStopGrace);
        std::lock_guard lock(mu_);
        (*it)->started = false;
      }
      return st.error().wrap("service " + name);
    }
    kLog.info("service started",
              {{"service", name}, {"took_ms", millis_since(begin)}});
    std::lock_guard lock(mu_);
    e.started = true;
    started_now.push_back(&e);
  }
  return ok_status();
}

void ServiceManager::stop_all(Duration grace) {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    {
      std::lock_guard lock(mu_);
      if (!it->started) continue;
    }
    stop_one(*it->service, grace);
    std::lock_guard lock(mu_);
    it->started = false;
  }
}

void ServiceManager::stop_one(Service& service, Duration grace) {
  const std::string name(service.name());
  kLog.info("stopping service", {{"service", name}});
  const MonoTime begin = mono_now();

  // stop() blocks, so it runs on a helper thread while this one watches
  // the clock; the helper is always joined, so it may use these locals.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;  // guarded by mu
  std::thread stopper([&] {
    service.stop();
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, grace, [&] { return done; })) {
      kLog.error(
          "service did not stop within its grace period; a thread cannot "
          "be killed, so shutdown keeps waiting for it",
          {{"service", name}, {"grace", format_duration(grace)}});
      cv.wait(lock, [&] { return done; });
    }
  }
  stopper.join();
  kLog.info("service stopped",
            {{"service", name}, {"took_ms", millis_since(begin)}});
}

std::vector<ServiceState> ServiceManager::states() const {
  std::lock_guard lock(mu_);
  std::vector<ServiceState> out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) {
    out.push_back(ServiceState{std::string(e.service->name()),
                               e.started && e.service->running()});
  }
  return out;
}

}  // namespace nw::service
