// Tests of the integration-test harness itself (tests/support), against
// /bin/sh, a canned-response server thread and fake_agent; needs neither
// nwagent nor nwctl. Case names start with "harness." so that
// `ctest -R harness` selects them and they cannot clash with unit tests.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "common/base/time.h"
#include "tests/support/agent_process.h"
#include "tests/support/check.h"
#include "tests/support/local_http.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::testsupport {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1 (on `port`, 0: any) whose thread answers each
// connection with `reply` (or nothing, holding the connection, when reply is
// empty), until destroyed.
class CannedServer {
 public:
  explicit CannedServer(std::string reply, std::uint16_t port = 0)
      : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  HostPort addr() const { return {"127.0.0.1", port_}; }

 private:
  void serve() {
    while (!stop_) {
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      char buf[4096];
      (void)!::read(conn, buf, sizeof buf);
      if (reply_.empty()) {
        while (!stop_) std::this_thread::sleep_for(10ms);
      } else {
        (void)!::write(conn, reply_.data(), reply_.size());
      }
      ::close(conn);
    }
  }

  std::string reply_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// /proc/<pid>/stat's state letter, or 0 when the process is gone.
char proc_state(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size()
             ? 0
             : stat[paren + 2];
}

AgentOptions fake_agent(std::string name = "fake") {
  AgentOptions o;
  o.name = std::move(name);
  o.binary = NW_FAKE_AGENT_BIN;
  return o;
}

}  // namespace

TEST_SUITE("testsupport.process") {
  TEST_CASE("harness.run.captures_stdout_stderr_and_exit_code") {
    ProcessResult r = run({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
    INFO(r.describe());
    CHECK(r.exit_code == 3);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    CHECK_FALSE(r.timed_out);
  }

  TEST_CASE("harness.run.big_output_on_both_streams_does_not_deadlock") {
    // A reader that drains one stream to EOF before the other blocks
    // forever here, whichever stream it starts with.
    ProcessResult r = run({"/bin/sh", "-c",
                           "head -c 3000000 /dev/zero | tr '\\0' e >&2;"
                           "head -c 5000000 /dev/zero | tr '\\0' o;"
                           "head -c 1000000 /dev/zero | tr '\\0' e >&2"},
                          {}, std::nullopt, 60s);
    INFO(r.command, " exit ", r.exit_code, " timed_out ", r.timed_out);
    CHECK(r.exit_code == 0);
    CHECK(r.out.size() == 5000000);
    CHECK(r.err.size() == 4000000);
    CHECK(r.out.find_first_not_of('o') == std::string::npos);
    CHECK(r.err.find_first_not_of('e') == std::string::npos);
  }

  TEST_CASE("harness.run.stdin_text_is_fed") {
    std::string input(2000000, 'x');
    input += "\nend\n";
    ProcessResult r = run({"cat"}, {}, input);
    CHECK(r.exit_code == 0);
    CHECK(r.out == input);
  }

  TEST_CASE("harness.run.child_that_ignores_stdin_is_fine") {
    // Writing to a pipe nobody reads must not kill the runner (SIGPIPE).
    ProcessResult r =
        run({"/bin/sh", "-c", "exit 0"}, {}, std::string(10000000, 'x'));
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK_FALSE(r.timed_out);
  }

  TEST_CASE("harness.run.timeout_kills_the_process_group") {
    MonoTime t0 = mono_now();
    ProcessResult r = run({"/bin/sh", "-c", "sleep 60 & echo $!; wait"}, {},
                          std::nullopt, 300ms);
    CHECK(mono_now() - t0 < 20s);
    CHECK(r.timed_out);
    CHECK(r.exit_code == 128 + SIGKILL);
    CHECK(r.describe().find("TIMED OUT") != std::string::npos);
    // The grandchild (sleep) was in the group, so it died too.
    REQUIRE_FALSE(r.out.empty());
    pid_t grandchild = std::stoi(r.out);
    CHECK(wait_until(
        [&] {
          char s = proc_state(grandchild);
          return s == 0 || s == 'Z';
        },
        5s, "the grandchild to die"));
  }

  TEST_CASE("harness.run.env_overrides_and_removals") {
    ::setenv("NW_HARNESS_A", "parent-a", 1);
    ::setenv("NW_HARNESS_B", "parent-b", 1);
    ::unsetenv("NW_HARNESS_C");
    const std::vector<std::string> argv = {
        "/bin/sh", "-c",
        "echo \"${NW_HARNESS_A-unset} ${NW_HARNESS_B-unset} "
        "${NW_HARNESS_C-unset}\""};
    CHECK(run(argv).out == "parent-a parent-b unset\n");
    CHECK(run(argv, {{"NW_HARNESS_A", "child-a"},
                     {"NW_HARNESS_B", std::nullopt},
                     {"NW_HARNESS_C", "child-c"}})
              .out == "child-a unset child-c\n");
    ::unsetenv("NW_HARNESS_A");
    ::unsetenv("NW_HARNESS_B");
  }

  TEST_CASE("harness.run.cwd_is_applied") {
    TempDir dir;
    ProcessResult r = run({"pwd", "-P"}, {}, std::nullopt, 10s, dir.path());
    CHECK(r.exit_code == 0);
    CHECK(std::filesystem::equivalent(r.out.substr(0, r.out.size() - 1),
                                      dir.path()));
  }

  TEST_CASE("harness.run.missing_binary_is_reported") {
    ProcessResult r = run({"/nonexistent/nw-no-such-binary", "x"});
    CHECK(r.exit_code == 127);
    CHECK(r.spawn_error.find("No such file") != std::string::npos);
    CHECK(r.describe().find("could not start") != std::string::npos);
  }

  TEST_CASE("harness.run_nwctl.client_env_of_the_runner_does_not_leak") {
    // `env` stands in for nwctl: it prints the environment it got.
    REQUIRE(set_binaries("", "/usr/bin/env"));
    ::setenv("NW_ADDR", "10.0.0.1:1", 1);
    ::setenv("NW_TOKEN", "secret", 1);
    ::setenv("NW_OUTPUT", "table", 1);
    ProcessResult r = run_nwctl({}, {{"NW_OUTPUT", "json"}});
    ::unsetenv("NW_ADDR");
    ::unsetenv("NW_TOKEN");
    ::unsetenv("NW_OUTPUT");
    set_binaries("", "");
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("NW_ADDR=") == std::string::npos);
    CHECK(r.out.find("NW_TOKEN=") == std::string::npos);
    CHECK(r.out.find("NW_OUTPUT=json\n") != std::string::npos);
    CHECK(r.out.find("NW_OUTPUT=table") == std::string::npos);
  }
}

TEST_SUITE("testsupport.temp_dir") {
  TEST_CASE("harness.temp_dir.removed_on_destruction") {
    std::filesystem::path p;
    {
      TempDir dir;
      p = dir.path();
      CHECK(std::filesystem::is_directory(p));
      dir.write_file("a/b/c.txt", "hello");
      CHECK(read_file(dir / "a/b/c.txt") == "hello");
    }
    CHECK_FALSE(std::filesystem::exists(p));
  }

  TEST_CASE("harness.temp_dir.kept_with_nw_test_keep") {
    const char* old = std::getenv("NW_TEST_KEEP");
    std::string saved = old != nullptr ? old : "";
    ::setenv("NW_TEST_KEEP", "1", 1);
    std::filesystem::path p;
    { p = TempDir().path(); }
    if (old != nullptr) {
      ::setenv("NW_TEST_KEEP", saved.c_str(), 1);
    } else {
      ::unsetenv("NW_TEST_KEEP");
    }
    CHECK(std::filesystem::is_directory(p));
    std::filesystem::remove_all(p);
  }
}

TEST_SUITE("testsupport.local_http") {
  TEST_CASE("harness.free_port.can_be_bound") {
    Result<std::uint16_t> port = free_port();
    NW_REQUIRE_OK(port);
    CHECK(*port != 0);
    CHECK(port_is_free(*port));
  }

  TEST_CASE("harness.http_get.reads_content_length_body") {
    CannedServer server(
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
        "Content-Length: 13\r\n\r\n{\"error\":{}}\n");
    Result<HttpResponse> r = http_get(server.addr(), "/nope");
    NW_REQUIRE_OK(r);
    CHECK(r->status == 404);
    CHECK(r->headers["content-type"] == "application/json");
    CHECK(r->body == "{\"error\":{}}\n");
  }

  TEST_CASE("harness.http_get.decodes_chunked_body") {
    CannedServer server(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
    Result<HttpResponse> r = http_get(server.addr(), "/");
    NW_REQUIRE_OK(r);
    CHECK(r->status == 200);
    CHECK(r->body == "hello, world");
  }

  TEST_CASE("harness.http_get.refused_is_unavailable") {
    Result<std::uint16_t> port = free_port();
    NW_REQUIRE_OK(port);
    Result<HttpResponse> r = http_get({"127.0.0.1", *port}, "/");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unavailable);
  }

  TEST_CASE("harness.http_get.silent_server_times_out") {
    CannedServer server("");
    Result<HttpResponse> r = http_get(server.addr(), "/", 200ms);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::timeout);
  }
}

TEST_SUITE("testsupport.agent_process") {
  TEST_CASE("harness.agent_process.start_stop_restart") {
    TempDir dir;
    AgentProcess agent(dir, fake_agent());
    CHECK(agent.pid() == -1);
    NW_REQUIRE_OK(agent.start());
    CHECK(agent.running());
    CHECK(std::filesystem::is_directory(dir / "fake"));
    CHECK(agent.addr() == "127.0.0.1:" + std::to_string(agent.port()));
    Result<HttpResponse> r = http_get(agent.host_port(), "/v1/health/ready");
    NW_REQUIRE_OK(r);
    CHECK(r->status == 200);
    CHECK(agent.wait_for_log("listening on " + agent.addr()));

    pid_t first = agent.pid();
    std::uint16_t port = agent.port();
    CHECK(agent.stop() == 0);
    CHECK_FALSE(agent.running());
    CHECK(agent.log().find("fake_agent: stopped") != std::string::npos);

    NW_REQUIRE_OK(agent.restart());
    CHECK(agent.pid() != first);
    CHECK(agent.port() == port);
    // current_log() starts at the latest launch.
    CHECK(agent.current_log().find("stopped") == std::string::npos);
    NW_CHECK_OK(agent.signal(SIGINT));
    CHECK(agent.wait_exit(10s) == 0);
    CHECK(agent.wait_for_log("fake_agent: stopped"));
  }

  TEST_CASE("harness.agent_process.early_exit_reports_the_log") {
    TempDir dir;
    AgentOptions o = fake_agent();
    o.extra_args = {"--fail"};
    AgentProcess agent(dir, o);
    Status st = agent.start(10s);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == Code::unavailable);
    CHECK(st.error().message.find("exited with code 3") != std::string::npos);
    CHECK(st.error().message.find("failing on purpose") != std::string::npos);
  }

  TEST_CASE("harness.agent_process.taken_port_is_retried_on_a_new_one") {
    TempDir dir;
    AgentProcess agent(dir, fake_agent());
    std::uint16_t picked = agent.port();
    // Somebody else takes the picked port before the agent binds it.
    CannedServer squatter("HTTP/1.1 500 Busy\r\nContent-Length: 0\r\n\r\n",
                          picked);
    NW_REQUIRE_OK(agent.start());
    CHECK(agent.port() != picked);
    CHECK(agent.log().find("Address already in use") != std::string::npos);
    Result<HttpResponse> r = http_get(agent.host_port(), "/v1/health/ready");
    NW_REQUIRE_OK(r);
    CHECK(r->status == 200);
  }

  TEST_CASE("harness.agent_process.another_ready_agent_is_not_taken_for_ours") {
    TempDir dir;
    AgentProcess first(dir, fake_agent("first"));
    NW_REQUIRE_OK(first.start());
    // A second agent on the same fixed port cannot bind it; the first one
    // answers "ready" there, but its pid is not the second's.
    AgentOptions o = fake_agent("second");
    o.port = first.port();
    AgentProcess second(dir, o);
    Status st = second.start(std::chrono::seconds(5));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("exited") != std::string::npos);
    CHECK(first.running());
  }

  TEST_CASE("harness.agent_process.sigterm_ignored_means_sigkill") {
    TempDir dir;
    AgentOptions o = fake_agent();
    o.extra_args = {"--ignore-sigterm"};
    AgentProcess agent(dir, o);
    NW_REQUIRE_OK(agent.start());
    CHECK(agent.stop(300ms) == 128 + SIGKILL);
  }

  TEST_CASE("harness.agent_process.destructor_reaps_the_agent") {
    TempDir dir;
    pid_t pid = -1;
    {
      AgentProcess agent(dir, fake_agent());
      NW_REQUIRE_OK(agent.start());
      pid = agent.pid();
      CHECK(proc_state(pid) != 0);
    }
    // Killed and reaped: no zombie left behind.
    CHECK(proc_state(pid) == 0);
  }
}

}  // namespace nw::testsupport
