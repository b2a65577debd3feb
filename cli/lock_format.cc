// The pure half of `nwctl lock` (see lock.h).
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command_util.h"
#include "cli/lock.h"
#include "common/api/json.h"
#include "common/http/url.h"

namespace nw::ctl {

namespace {
constexpr Duration kMinTtl = std::chrono::seconds(1);
constexpr Duration kMaxTtl = std::chrono::hours(24 * 7);
constexpr Duration kMinRequest = std::chrono::milliseconds(100);
}  // namespace

Result<LockArgs> check_lock_args(const LockFlags& flags) {
  const std::string example =
      "e.g. nwctl lock backup --ttl 30s -- /usr/local/bin/backup.sh";
  LockArgs a;
  NW_RETURN_IF_ERROR(check_name("lock", flags.name));
  a.name = flags.name;
  auto ttl = parse_duration(flags.ttl);
  if (!ttl.ok() || ttl.value() < kMinTtl || ttl.value() > kMaxTtl) {
    return usage("--ttl: expected a duration from 1s to 7d, got " +
                     single_quote(flags.ttl),
                 "the lease is renewed every ttl/3; " + example);
  }
  a.ttl = ttl.value();
  if (!flags.wait.empty()) {
    auto wait = parse_duration(flags.wait);
    if (!wait.ok()) {
      return usage("--wait: expected a duration such as 0, 30s or 10m, got " +
                       single_quote(flags.wait),
                   "leave --wait out to wait as long as it takes");
    }
    a.wait = wait.value();
  }
  if (flags.command.empty() || flags.command.front().empty()) {
    return usage("lock: no command to run",
                 "put the command after --: " + example);
  }
  a.command = flags.command;
  return a;
}

std::string lock_holder_id(std::string_view hostname, long pid,
                           std::uint64_t random) {
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08llx",
                static_cast<unsigned long long>(random & 0xffffffffULL));
  return std::string(hostname.empty() ? "unknown" : hostname) + "/" +
         std::to_string(pid) + "/" + suffix;
}

std::string acquire_body(std::string_view holder, Duration ttl, Duration wait) {
  return api::to_body(nlohmann::json{{"holder", std::string(holder)},
                                     {"ttl_ms", ttl.count()},
                                     {"wait_ms", wait.count()}});
}

std::string renew_body(std::string_view holder, std::uint64_t token,
                       Duration ttl) {
  return api::to_body(nlohmann::json{{"holder", std::string(holder)},
                                     {"token", token},
                                     {"ttl_ms", ttl.count()}});
}

std::string release_body(std::string_view holder, std::uint64_t token) {
  return api::to_body(
      nlohmann::json{{"holder", std::string(holder)}, {"token", token}});
}

std::string lock_path(std::string_view name, std::string_view verb) {
  return "/v1/locks/" + http::percent_encode(name) + "/" + std::string(verb);
}

Result<LockGrant> lock_grant_from_json(std::string_view body) {
  const std::string what = "lock";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  LockGrant g;
  api::ObjectReader r(j, what);
  r.optional("name", g.name);
  r.optional("holder", g.holder);
  r.required("token", g.token);
  r.optional("ttl_ms", g.ttl_ms);
  NW_RETURN_IF_ERROR(r.status());
  return g;
}

Duration acquire_wait(std::optional<Duration> left, Duration ttl) {
  const Duration cap = std::min(kAcquireChunk, ttl / 3);
  if (!left) return cap;
  return std::clamp(*left, Duration(0), cap);
}

LeaseKeeper::LeaseKeeper(Duration ttl, MonoTime granted_at)
    : ttl_(ttl), deadline_(granted_at + ttl), next_(granted_at + ttl / 3) {}

LeaseKeeper::Action LeaseKeeper::check(MonoTime now) const {
  if (refused_ || now >= deadline_) return Action::lost;
  if (now >= next_) return Action::renew;
  return Action::wait;
}

void LeaseKeeper::renewed(MonoTime sent_at) {
  // A late answer to an old request never shortens a newer deadline.
  deadline_ = std::max(deadline_, sent_at + ttl_);
  next_ = sent_at + ttl_ / 3;
}

void LeaseKeeper::failed(MonoTime now) {
  // Try again soon, several times before the deadline.
  Duration retry = std::clamp(ttl_ / 10, Duration(200), Duration(2000));
  next_ = std::min(now + retry, deadline_);
}

Duration LeaseKeeper::request_timeout(MonoTime now) const {
  auto left = std::chrono::duration_cast<Duration>(deadline_ - now);
  return std::max(kMinRequest, std::min(left, ttl_ / 3));
}

Duration LeaseKeeper::sleep_for(MonoTime now, Duration cap) const {
  MonoTime next = std::min(next_, deadline_);
  auto d = std::chrono::duration_cast<Duration>(next - now);
  return std::clamp(d, Duration(0), cap);
}

int exit_code_of_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace nw::ctl
