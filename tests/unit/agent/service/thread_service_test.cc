#include "agent/service/thread_service.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "agent/service/service_manager.h"
#include "tests/unit/agent/service/wait.h"

namespace nw::service {
namespace {

using namespace std::chrono_literals;
using test::eventually;

// Counts rounds of its loop; sleeps `interval` between them.
class Ticker final : public ThreadService {
 public:
  explicit Ticker(Duration interval)
      : ThreadService("ticker"), interval_(interval) {}
  ~Ticker() override { stop(); }

  std::atomic<int> rounds{0};
  std::atomic<bool> entered{false};
  std::atomic<bool> returned{false};

 protected:
  void run(StopToken& stop) override {
    entered = true;
    while (stop.wait_for(interval_)) ++rounds;
    returned = true;
  }

 private:
  Duration interval_;
};

class Thrower final : public ThreadService {
 public:
  Thrower() : ThreadService("thrower") {}
  ~Thrower() override { stop(); }

 protected:
  void run(StopToken&) override { throw std::runtime_error("boom"); }
};

TEST_SUITE("service.thread_service") {
  TEST_CASE("stop.interrupts_a_long_wait") {
    // The loop waits an hour per round; stop() must end that wait, or this
    // test hangs until the ctest timeout.
    Ticker t(std::chrono::hours(1));
    REQUIRE(t.start().ok());
    REQUIRE(eventually([&] { return t.entered.load(); }));
    CHECK(t.running());
    t.stop();
    CHECK(t.returned);
    CHECK(t.rounds == 0);
    CHECK_FALSE(t.running());
  }

  TEST_CASE("wait_for.returns_true_when_time_is_up") {
    Ticker t(1ms);
    REQUIRE(t.start().ok());
    CHECK(eventually([&] { return t.rounds >= 3; }));
    t.stop();
  }

  TEST_CASE("wake.ends_the_wait_early") {
    Ticker t(std::chrono::hours(1));
    REQUIRE(t.start().ok());
    REQUIRE(eventually([&] { return t.entered.load(); }));
    t.wake();
    CHECK(eventually([&] { return t.rounds == 1; }));
    t.stop();
    CHECK(t.rounds == 1);
  }

  TEST_CASE("start.twice_is_refused_and_restart_after_stop_works") {
    Ticker t(std::chrono::hours(1));
    REQUIRE(t.start().ok());
    Status again = t.start();
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Code::failed_precondition);
    t.stop();
    t.stop();  // idempotent
    t.entered = false;
    REQUIRE(t.start().ok());
    REQUIRE(eventually([&] { return t.entered.load(); }));
    t.stop();
  }

  TEST_CASE("run.exception_is_caught_and_shows_as_not_running") {
    ServiceManager m;
    auto thrower = std::make_unique<Thrower>();
    Thrower* raw = thrower.get();
    m.add(std::move(thrower));
    REQUIRE(m.start_all().ok());
    CHECK(eventually([&] { return !raw->running(); }));
    auto states = m.states();
    REQUIRE(states.size() == 1);
    CHECK(states[0].name == "thrower");
    CHECK_FALSE(states[0].running);
    m.stop_all(5s);
  }

  TEST_CASE("stop_token.stop_before_wait_returns_false_at_once") {
    StopToken token;
    CHECK_FALSE(token.stop_requested());
    token.request_stop();
    CHECK(token.stop_requested());
    CHECK_FALSE(token.wait_for(std::chrono::hours(1)));
  }

  TEST_CASE("stop_token.wake_before_wait_is_not_lost") {
    StopToken token;
    token.wake();
    CHECK(token.wait_for(std::chrono::hours(1)));
  }
}

}  // namespace
}  // namespace nw::service
