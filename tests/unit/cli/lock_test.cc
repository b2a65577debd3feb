// `nwctl lock` (cli/lock.h): argument checks, bodies, LeaseKeeper's
// renew/deadline decisions on a made-up clock, and the command in-process
// against a scripted fake of the /v1/locks endpoints running real child
// processes.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/lock.h"
#include "common/http/server.h"
#include "nwctl_runner.h"

namespace {

using nw::ctl::LeaseKeeper;
using nw::ctl::LockFlags;
using nw::ctl::test::nwctl;
using std::chrono::milliseconds;

LockFlags flags_for(std::vector<std::string> command) {
  LockFlags f;
  f.name = "backup";
  f.command = std::move(command);
  return f;
}

// The /v1/locks endpoints: acquire answers `acquire_answer`, renew
// `renew_answer`; every request is recorded.
class FakeLocks {
 public:
  FakeLocks() : server_(options()) {
    auto h = [this](const nw::http::Request& req) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
      if (req.path.ends_with("/acquire")) return acquire_;
      if (req.path.ends_with("/renew")) return renew_;
      return nw::http::Response::json("", 204);
    };
    server_.route("POST", "/v1/locks/.*", "locks", h);
    REQUIRE(server_.bind().ok());
    server_.start();
  }
  std::string addr() const {
    return "127.0.0.1:" + std::to_string(server_.port());
  }
  void acquire_answer(nw::http::Response r) {
    std::lock_guard<std::mutex> lock(mu_);
    acquire_ = std::move(r);
  }
  void renew_answer(nw::http::Response r) {
    std::lock_guard<std::mutex> lock(mu_);
    renew_ = std::move(r);
  }
  std::vector<nw::http::Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int count(const std::string& verb) {
    int n = 0;
    for (const auto& r : requests()) n += r.path.ends_with("/" + verb);
    return n;
  }

 private:
  static nw::http::ServerOptions options() {
    nw::http::ServerOptions o;
    o.listen = {"127.0.0.1", 0};
    o.threads = 4;
    return o;
  }
  std::mutex mu_;
  nw::http::Response acquire_ = nw::http::Response::json(
      R"({"name": "backup", "holder": "h", "token": 812, "ttl_ms": 30000})");
  nw::http::Response renew_ = acquire_;
  std::vector<nw::http::Request> requests_;
  nw::http::Server server_;
};

}  // namespace

TEST_SUITE("cli.lock") {
  TEST_CASE("check_lock_args.defaults_and_errors") {
    auto a = nw::ctl::check_lock_args(flags_for({"true"}));
    REQUIRE(a.ok());
    CHECK(a->ttl == milliseconds(30000));
    CHECK_FALSE(a->wait.has_value());

    LockFlags f = flags_for({"true"});
    f.wait = "0";
    a = nw::ctl::check_lock_args(f);
    REQUIRE(a.ok());
    CHECK(a->wait == milliseconds(0));

    auto none = nw::ctl::check_lock_args(flags_for({}));
    REQUIRE_FALSE(none.ok());
    CHECK(nw::exit_code(none.error().code) == 2);
    CHECK(none.error().message == "lock: no command to run");
    CHECK(none.error().hint.find("after --") != std::string::npos);

    f = flags_for({"true"});
    f.ttl = "500ms";
    auto short_ttl = nw::ctl::check_lock_args(f);
    REQUIRE_FALSE(short_ttl.ok());
    CHECK(short_ttl.error().message.rfind("--ttl:", 0) == 0);
    f.ttl = "8d";
    CHECK_FALSE(nw::ctl::check_lock_args(f).ok());
    f.ttl = "30s";
    f.wait = "soon";
    CHECK_FALSE(nw::ctl::check_lock_args(f).ok());
    f.wait = "";
    f.name = "a/b";
    CHECK_FALSE(nw::ctl::check_lock_args(f).ok());
  }

  TEST_CASE("bodies_and_holder_id") {
    CHECK(nw::ctl::lock_holder_id("host-1", 4242, 0x1234abcdULL) ==
          "host-1/4242/1234abcd");
    CHECK(nw::ctl::lock_holder_id("", 1, 0x5ULL) == "unknown/1/00000005");
    CHECK(
        nlohmann::json::parse(nw::ctl::acquire_body("h", milliseconds(30000),
                                                    milliseconds(5000))) ==
        nlohmann::json{{"holder", "h"}, {"ttl_ms", 30000}, {"wait_ms", 5000}});
    CHECK(nlohmann::json::parse(
              nw::ctl::renew_body("h", 812, milliseconds(30000))) ==
          nlohmann::json{{"holder", "h"}, {"token", 812}, {"ttl_ms", 30000}});
    CHECK(nlohmann::json::parse(nw::ctl::release_body("h", 812)) ==
          nlohmann::json{{"holder", "h"}, {"token", 812}});
    CHECK(nw::ctl::lock_path("db.migrate", "acquire") ==
          "/v1/locks/db.migrate/acquire");
    auto g = nw::ctl::lock_grant_from_json(
        R"({"name": "backup", "holder": "h", "token": 812, "ttl_ms": 30000})");
    REQUIRE(g.ok());
    CHECK(g->token == 812);
    CHECK_FALSE(nw::ctl::lock_grant_from_json(R"({"name": "x"})").ok());
    const milliseconds ttl(30000);
    CHECK(nw::ctl::acquire_wait(std::nullopt, ttl) == nw::ctl::kAcquireChunk);
    CHECK(nw::ctl::acquire_wait(milliseconds(1200), ttl) == milliseconds(1200));
    CHECK(nw::ctl::acquire_wait(milliseconds(-5), ttl) == milliseconds(0));
    // Never longer than a third of the lease.
    CHECK(nw::ctl::acquire_wait(std::nullopt, milliseconds(3000)) ==
          milliseconds(1000));
  }

  TEST_CASE("lease_keeper.renews_every_third_of_the_ttl") {
    const nw::MonoTime t0{};
    LeaseKeeper k(milliseconds(30000), t0);
    CHECK(k.check(t0) == LeaseKeeper::Action::wait);
    CHECK(k.check(t0 + milliseconds(9999)) == LeaseKeeper::Action::wait);
    CHECK(k.check(t0 + milliseconds(10000)) == LeaseKeeper::Action::renew);
    CHECK(k.sleep_for(t0 + milliseconds(9950), milliseconds(100)) ==
          milliseconds(50));
    // Renewed with a request sent at 10s: the lease now ends at 40s.
    k.renewed(t0 + milliseconds(10000));
    CHECK(k.deadline() == t0 + milliseconds(40000));
    CHECK(k.check(t0 + milliseconds(15000)) == LeaseKeeper::Action::wait);
    CHECK(k.check(t0 + milliseconds(20000)) == LeaseKeeper::Action::renew);
    // A late answer to an older request does not shorten the lease.
    k.renewed(t0 + milliseconds(5000));
    CHECK(k.deadline() == t0 + milliseconds(40000));
  }

  TEST_CASE("lease_keeper.failed_renewals_retry_then_lose_at_the_deadline") {
    const nw::MonoTime t0{};
    LeaseKeeper k(milliseconds(30000), t0);
    k.failed(t0 + milliseconds(10000));
    CHECK(k.next_renewal() == t0 + milliseconds(12000));  // ttl/10, max 2s
    CHECK(k.check(t0 + milliseconds(12000)) == LeaseKeeper::Action::renew);
    k.failed(t0 + milliseconds(29000));
    CHECK(k.next_renewal() == t0 + milliseconds(30000));  // not past it
    CHECK(k.check(t0 + milliseconds(29999)) == LeaseKeeper::Action::wait);
    CHECK(k.check(t0 + milliseconds(30000)) == LeaseKeeper::Action::lost);
    // A renewal request never outlives the lease, nor ttl/3.
    CHECK(k.request_timeout(t0) == milliseconds(10000));
    CHECK(k.request_timeout(t0 + milliseconds(29000)) == milliseconds(1000));
    CHECK(k.request_timeout(t0 + milliseconds(31000)) == milliseconds(100));
  }

  TEST_CASE("lease_keeper.refused_is_lost_at_once") {
    const nw::MonoTime t0{};
    LeaseKeeper k(milliseconds(3000), t0);
    k.refused();
    CHECK(k.check(t0) == LeaseKeeper::Action::lost);
  }

  TEST_CASE("exit_code_of_status.code_or_128_plus_signal") {
    CHECK(nw::ctl::exit_code_of_status(3 << 8) == 3);  // WEXITSTATUS layout
    int status = 0;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::signal(SIGTERM, SIG_DFL);  // not the test runner's handler
      ::raise(SIGTERM);
      ::_exit(0);
    }
    REQUIRE(pid > 0);
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(nw::ctl::exit_code_of_status(status) == 128 + SIGTERM);
  }
}

TEST_SUITE("cli.lock_command") {
  TEST_CASE("runs_the_command_with_the_token_and_releases") {
    FakeLocks agent;
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup", "--", "sh", "-c",
                    "echo $NW_LOCK_NAME $NW_LOCK_TOKEN; exit 3"});
    CHECK_MESSAGE(r.code == 3, r.err);
    CHECK(r.out == "backup 812\n");
    auto reqs = agent.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].path == "/v1/locks/backup/acquire");
    auto acquire = nlohmann::json::parse(reqs[0].body);
    CHECK(acquire["ttl_ms"] == 30000);
    CHECK(acquire["wait_ms"] == 5000);  // at most 5s, and ttl/3 = 10s
    CHECK(reqs[1].path == "/v1/locks/backup/release");
    auto release = nlohmann::json::parse(reqs[1].body);
    CHECK(release["token"] == 812);
    CHECK(release["holder"] == acquire["holder"]);
  }

  TEST_CASE("exit_code_of_a_signalled_command_is_128_plus_n") {
    FakeLocks agent;
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup", "--", "sh", "-c",
                    "kill -TERM $$"});
    CHECK(r.code == 128 + SIGTERM);
    CHECK(agent.count("release") == 1);
  }

  TEST_CASE("held_lock_with_wait_0_exits_4_naming_the_holder") {
    FakeLocks agent;
    agent.acquire_answer(nw::http::Response::error(
        nw::Error(nw::Code::conflict,
                  "lock \"backup\": held by host-2/77/ab until "
                  "2026-12-01T02:00:30.000Z")));
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup", "--wait", "0",
                    "--", "true"});
    CHECK(r.code == 4);
    CHECK(r.err.find("held by host-2/77/ab") != std::string::npos);
    CHECK(r.err.find("(--wait)") != std::string::npos);
    CHECK(agent.count("acquire") == 1);
    CHECK(nlohmann::json::parse(agent.requests()[0].body)["wait_ms"] == 0);
  }

  TEST_CASE("refused_renewal_stops_the_command_and_exits_11") {
    FakeLocks agent;
    agent.renew_answer(nw::http::Response::error(
        nw::Error(nw::Code::failed_precondition, "lock \"backup\": expired")));
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup", "--ttl", "1s",
                    "--", "sleep", "30"});
    CHECK(r.code == nw::ctl::kLockLostExit);
    CHECK(r.err.find("lost the lock (the agent refused the renewal") !=
          std::string::npos);
    CHECK(agent.count("renew") == 1);
    CHECK(agent.count("release") == 0);
  }

  TEST_CASE("no_successful_renewal_before_the_deadline_exits_11") {
    FakeLocks agent;
    agent.renew_answer(nw::http::Response::error(
        nw::Error(nw::Code::unavailable, "no leader")));
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup", "--ttl", "1s",
                    "--", "sleep", "30"});
    CHECK(r.code == nw::ctl::kLockLostExit);
    CHECK(r.err.find("renewal failed: no leader; retrying") !=
          std::string::npos);
    CHECK(r.err.find("no renewal succeeded before the lease ended") !=
          std::string::npos);
    CHECK(agent.count("renew") >= 2);
  }

  TEST_CASE("unknown_command_exits_127_and_releases") {
    FakeLocks agent;
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup", "--",
                    "/nonexistent/command"});
    CHECK(r.code == nw::ctl::kCommandNotFoundExit);
    CHECK(r.err.find("cannot run '/nonexistent/command'") != std::string::npos);
    CHECK(agent.count("release") == 1);
  }

  TEST_CASE("usage_errors_exit_2_without_a_request") {
    FakeLocks agent;
    auto r = nwctl({"--addr", agent.addr(), "lock", "backup"});
    CHECK(r.code == 2);
    CHECK(r.err.find("no command to run") != std::string::npos);
    CHECK(nwctl({"--addr", agent.addr(), "lock", "backup", "--ttl", "x", "--",
                 "true"})
              .code == 2);
    CHECK(nwctl({"lock"}).code == 2);
    CHECK(agent.requests().empty());
  }
}
