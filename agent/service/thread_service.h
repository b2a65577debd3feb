#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "agent/service/service.h"
#include "common/base/units.h"

namespace nw::service {

// How a ThreadService's loop learns that it should stop, and its
// interruptible sleep.
//
// Threads: request_stop() and wake() from any thread; wait_for() from the
// loop's thread.
class StopToken {
 public:
  StopToken() = default;
  StopToken(const StopToken&) = delete;
  StopToken& operator=(const StopToken&) = delete;

  bool stop_requested() const;
  // Sleeps up to `timeout`. Returns false as soon as stop is requested (at
  // once if it already was), true when the time is up or wake() was called.
  // The loop then does one more round of work or exits:
  //   while (stop.wait_for(interval)) { do_work(); }
  bool wait_for(Duration timeout);

  void request_stop();
  // Ends the current (or the next) wait_for early with true: "there is new
  // work", e.g. a job definition changed.
  void wake();

 private:
  friend class ThreadService;
  // Clears stop and wake for another run (ThreadService::start).
  void reset();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;   // guarded by mu_
  bool woken_ = false;  // guarded by mu_; cleared by the wait it ends
};

// A Service whose work is one loop on its own thread: subclasses implement
// run(), which returns when the token says stop.
//
//   class Scheduler final : public ThreadService {
//     Scheduler() : ThreadService("scheduler") {}
//     void run(StopToken& stop) override {
//       while (stop.wait_for(std::chrono::seconds(1))) tick();
//     }
//   };
//
// Lifecycle: start() launches the thread; stop() requests stop and joins
// it; after stop() it may be started again. A subclass must be stopped
// before it is destroyed: the thread runs the subclass's run(), so the base
// destructor is too late (it asserts that the thread is gone).
// Threads: start() and stop() from the owner (serialized by a mutex); run()
// on the service's thread; wake() and running() from any thread.
// Exceptions thrown by run() are caught and logged, and the service then
// counts as not running (readiness shows it), instead of terminating the
// agent.
class ThreadService : public Service {
 public:
  explicit ThreadService(std::string name);
  ~ThreadService() override;

  std::string_view name() const override { return name_; }
  // failed_precondition if it is running already.
  Status start() override;
  void stop() override;
  // True from start() until run() returns.
  bool running() const override;
  // Ends the loop's current wait early (StopToken::wake).
  void wake();

 protected:
  // The loop. Return when stop.wait_for() returns false or
  // stop.stop_requested() is true; return promptly, since shutdown waits.
  virtual void run(StopToken& stop) = 0;

 private:
  void thread_main();

  const std::string name_;
  std::mutex lifecycle_mu_;  // serializes start() and stop()
  std::thread thread_;       // guarded by lifecycle_mu_
  StopToken token_;          // internally synchronized; reset by start()
  std::atomic<bool> running_{false};
};

}  // namespace nw::service
