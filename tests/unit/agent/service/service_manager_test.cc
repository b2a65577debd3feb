#include "agent/service/service_manager.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base/log.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/service/wait.h"

namespace nw::service {
namespace {

using test::eventually;

// Records "start <name>" and "stop <name>" into a shared journal.
class FakeService final : public Service {
 public:
  FakeService(std::string name, std::vector<std::string>& journal,
              bool fail_start = false)
      : name_(std::move(name)), journal_(journal), fail_start_(fail_start) {}

  std::string_view name() const override { return name_; }
  Status start() override {
    journal_.push_back("start " + name_);
    if (fail_start_) return Error(Code::io_error, "port 7070 is taken");
    return ok_status();
  }
  void stop() override { journal_.push_back("stop " + name_); }

 private:
  std::string name_;
  std::vector<std::string>& journal_;
  bool fail_start_;
};

using Journal = std::vector<std::string>;

TEST_SUITE("service.service_manager") {
  TEST_CASE("start_all.starts_in_order_and_stop_all_stops_in_reverse") {
    Journal j;
    ServiceManager m;
    m.add(std::make_unique<FakeService>("a", j));
    m.add(std::make_unique<FakeService>("b", j));
    m.add(std::make_unique<FakeService>("c", j));
    REQUIRE(m.start_all().ok());
    CHECK(j == Journal{"start a", "start b", "start c"});
    m.stop_all(std::chrono::seconds(5));
    CHECK(j == Journal{"start a", "start b", "start c", "stop c", "stop b",
                       "stop a"});
  }

  TEST_CASE("start_all.failure_stops_started_ones_in_reverse") {
    Journal j;
    ServiceManager m;
    m.add(std::make_unique<FakeService>("a", j));
    m.add(std::make_unique<FakeService>("b", j));
    m.add(std::make_unique<FakeService>("api", j, /*fail_start=*/true));
    m.add(std::make_unique<FakeService>("d", j));
    Status s = m.start_all();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::io_error);
    CHECK(s.error().message == "service api: port 7070 is taken");
    // The failed one cleans up after itself; d never starts.
    CHECK(j == Journal{"start a", "start b", "start api", "stop b", "stop a"});
    for (const ServiceState& st : m.states()) CHECK_FALSE(st.running);
    m.stop_all(std::chrono::seconds(5));  // nothing left to stop
    CHECK(j.size() == 5);
  }

  TEST_CASE("states.report_names_in_order_and_running") {
    Journal j;
    ServiceManager m;
    m.add(std::make_unique<FakeService>("a", j));
    m.add(std::make_unique<FakeService>("b", j));
    auto before = m.states();
    REQUIRE(before.size() == 2);
    CHECK(before[0].name == "a");
    CHECK(before[1].name == "b");
    CHECK_FALSE(before[0].running);
    REQUIRE(m.start_all().ok());
    for (const ServiceState& st : m.states()) CHECK(st.running);
    m.stop_all(std::chrono::seconds(5));
    for (const ServiceState& st : m.states()) CHECK_FALSE(st.running);
  }

  TEST_CASE("destructor.stops_running_services") {
    Journal j;
    {
      ServiceManager m;
      m.add(std::make_unique<FakeService>("a", j));
      m.add(std::make_unique<FakeService>("b", j));
      REQUIRE(m.start_all().ok());
    }
    CHECK(j == Journal{"start a", "start b", "stop b", "stop a"});
  }

  // A service whose stop() blocks until the test releases it.
  class StuckService final : public Service {
   public:
    std::string_view name() const override { return "stuck"; }
    Status start() override { return ok_status(); }
    void stop() override {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return released_; });
    }
    void release() {
      {
        std::lock_guard lock(mu_);
        released_ = true;
      }
      cv_.notify_all();
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool released_ = false;
  };

  TEST_CASE("stop_all.logs_overrun_and_still_waits") {
    testsupport::TempDir dir;
    const std::string log_file = (dir / "agent.log").string();
    REQUIRE(log::configure(log::Level::info, log::Format::text, log_file).ok());
    auto read_log = [&] {
      std::ifstream in(log_file);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };

    Journal j;
    ServiceManager m;
    m.add(std::make_unique<FakeService>("first", j));
    auto stuck = std::make_unique<StuckService>();
    StuckService* stuck_ptr = stuck.get();
    m.add(std::move(stuck));
    REQUIRE(m.start_all().ok());

    // Release the stuck service only once the manager has reported the
    // overrun; "first" must not be stopped before "stuck" has stopped.
    std::atomic<bool> saw_overrun{false};
    std::atomic<bool> first_stopped_early{false};
    std::thread releaser([&] {
      saw_overrun = eventually([&] {
        return read_log().find("did not stop within its grace period") !=
               std::string::npos;
      });
      first_stopped_early = j.size() > 2;
      stuck_ptr->release();
    });
    m.stop_all(std::chrono::milliseconds(1));
    releaser.join();

    CHECK(saw_overrun);
    CHECK_FALSE(first_stopped_early);
    CHECK(j.back() == "stop first");
    std::string text = read_log();
    CHECK(text.find("service=stuck grace=") != std::string::npos);
    CHECK(text.find("service stopped service=stuck") != std::string::npos);
    REQUIRE(log::configure(log::Level::info, log::Format::text).ok());
  }
}

}  // namespace
}  // namespace nw::service
