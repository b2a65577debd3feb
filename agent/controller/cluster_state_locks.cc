#include <string>
#include <utility>

#include "agent/controller/cluster_state.h"

// ClusterState's cluster locks: the apply cases of acquire_lock ..
// release_lock and their reads. Expiry is judged by the command's now_ms
// against the stored deadline, never by a clock.
namespace nw::controller {
namespace {

Error rejected(Code code, std::string message, std::string hint = {}) {
  return Error(code, std::move(message), std::move(hint), "controller");
}

// OK when `ttl_ms` is in 1..kMaxLeaseMs and now_ms + ttl_ms fits.
Status check_ttl(std::int64_t now_ms, std::int64_t ttl_ms,
                 const std::string& what) {
  if (ttl_ms < 1 || ttl_ms > kMaxLeaseMs) {
    return rejected(Code::invalid_argument,
                    what + ": ttl " + std::to_string(ttl_ms) +
                        " ms is out of range 1.." + std::to_string(kMaxLeaseMs),
                    "use a ttl from 1ms to 7 days");
  }
  std::int64_t deadline = 0;
  if (__builtin_add_overflow(now_ms, ttl_ms, &deadline)) {
    return rejected(Code::invalid_argument, what + ": now + ttl overflows");
  }
  return ok_status();
}

Error stale(const std::string& what) {
  return rejected(Code::failed_precondition, what + ": stale fencing token",
                  "the lock was lost; acquire it again");
}

}  // namespace

const LockRecord* ClusterState::lock(std::string_view name) const {
  auto it = locks_.find(std::string(name));
  return it == locks_.end() ? nullptr : &it->second;
}

Status ClusterState::apply_one(const AcquireLock& c) {
  std::string what = "acquire lock";
  if (!valid_name(c.name)) {
    return rejected(Code::invalid_argument, what + ": invalid name",
                    "use 1 to 200 characters of A-Z, a-z, 0-9, '.', '_', '-'");
  }
  what += " " + c.name;
  if (c.holder.empty() || c.holder.size() > kMaxReasonBytes) {
    return rejected(Code::invalid_argument,
                    what + ": holder empty or too long");
  }
  NW_RETURN_IF_ERROR(check_ttl(c.now_ms, c.ttl_ms, what));
  const std::int64_t deadline = c.now_ms + c.ttl_ms;
  auto it = locks_.find(c.name);
  if (it != locks_.end() && c.now_ms < it->second.deadline_ms) {
    LockRecord& held = it->second;
    if (held.holder != c.holder) {
      return rejected(Code::conflict,
                      what + ": held by another holder until " +
                          std::to_string(held.deadline_ms) + " ms",
                      "wait for it, or retry after its ttl");
    }
    // The same holder again: a renewal, same token.
    if (held.deadline_ms != deadline) {
      held.deadline_ms = deadline;
      changed_ = true;
    }
    return ok_status();
  }
  locks_[c.name] =
      LockRecord{c.name, c.holder, applied_index_.value(), deadline};
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const RenewLock& c) {
  const std::string what = "renew lock " + c.name;
  auto it = locks_.find(c.name);
  if (it == locks_.end()) {
    return rejected(Code::not_found, what + ": not held");
  }
  LockRecord& held = it->second;
  if (held.holder != c.holder || held.token != c.token) return stale(what);
  if (c.now_ms >= held.deadline_ms) {
    return rejected(
        Code::failed_precondition,
        what + ": expired at " + std::to_string(held.deadline_ms) + " ms",
        "acquire it again");
  }
  NW_RETURN_IF_ERROR(check_ttl(c.now_ms, c.ttl_ms, what));
  const std::int64_t deadline = c.now_ms + c.ttl_ms;
  if (held.deadline_ms != deadline) {
    held.deadline_ms = deadline;
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const ReleaseLock& c) {
  const std::string what = "release lock " + c.name;
  auto it = locks_.find(c.name);
  if (it == locks_.end()) {
    return rejected(Code::not_found, what + ": not held");
  }
  if (it->second.holder != c.holder || it->second.token != c.token) {
    return stale(what);
  }
  locks_.erase(it);
  changed_ = true;
  return ok_status();
}

}  // namespace nw::controller
