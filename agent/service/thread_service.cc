#include "agent/service/thread_service.h"

#include <exception>
#include <system_error>

#include "common/base/assert.h"
#include "common/base/log.h"

namespace nw::service {
namespace {
const log::Logger kLog("service");
}  // namespace

bool StopToken::stop_requested() const {
  std::lock_guard lock(mu_);
  return stop_;
}

bool StopToken::wait_for(Duration timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return stop_ || woken_; });
  woken_ = false;
  return !stop_;
}

void StopToken::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void StopToken::reset() {
  std::lock_guard lock(mu_);
  stop_ = false;
  woken_ = false;
}

void StopToken::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

ThreadService::ThreadService(std::string name) : name_(std::move(name)) {}

ThreadService::~ThreadService() {
  NW_ASSERT(!thread_.joinable(),
            "ThreadService destroyed while running: call stop() first");
}

Status ThreadService::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (thread_.joinable()) {
    return Error(Code::failed_precondition,
                 "service " + name_ + " is running already", {}, "service");
  }
  token_.reset();
  running_ = true;
  try {
    thread_ = std::thread([this] { thread_main(); });
  } catch (const std::system_error& e) {
    running_ = false;
    return Error(Code::internal,
                 "service " + name_ + ": cannot start a thread: " + e.what(),
                 {}, "service");
  }
  return ok_status();
}

void ThreadService::stop() {
  std::lock_guard lock(lifecycle_mu_);
  if (!thread_.joinable()) return;
  token_.request_stop();
  thread_.join();
  running_ = false;
}

bool ThreadService::running() const { return running_; }

void ThreadService::wake() { token_.wake(); }

void ThreadService::thread_main() {
  try {
    run(token_);
  } catch (const std::exception& e) {
    kLog.error("service loop threw", {{"service", name_}, {"error", e.what()}});
  } catch (...) {
    kLog.error("service loop threw", {{"service", name_}});
  }
  if (!token_.stop_requested()) {
    kLog.error("service loop ended before stop was requested",
               {{"service", name_}});
  }
  running_ = false;
}

}  // namespace nw::service
