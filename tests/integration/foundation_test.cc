// Integration tests of the foundation: real nwagent processes on 127.0.0.1
// (each case starts its own, on free ports, in its own TempDir) driven by
// the real nwctl and by a raw HTTP GET. They check the contract users and
// scripts rely on: flags, config errors, the data-dir lock, the status and
// health endpoints, metrics, signals, JSON logs, nwctl's output and exit
// codes.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/base/strings.h"
#include "tests/support/agent_process.h"
#include "tests/support/binaries.h"
#include "tests/support/check.h"
#include "tests/support/local_http.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::testsupport {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Parses `text` as JSON; a failed check (with the text) when it is not.
json parse_json(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  INFO("not JSON: ", text);
  CHECK_FALSE(j.is_discarded());
  return j;
}

// Runs nwctl, requires exit 0, and parses its stdout.
json nwctl_json(std::vector<std::string> args, EnvOverrides env = {}) {
  ProcessResult r = run_nwctl(std::move(args), std::move(env));
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return parse_json(r.out);
}

json status_of(const AgentProcess& agent) {
  return nwctl_json({"--addr", agent.addr(), "-o", "json", "status"});
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

// A port nothing listens on (it was free a moment ago).
std::string dead_addr() {
  Result<std::uint16_t> port = free_port();
  NW_REQUIRE_OK(port);
  return "127.0.0.1:" + std::to_string(*port);
}

// A minimal valid agent.toml for `agent` at log level `level`.
std::string config_text(const AgentProcess& agent, std::string_view level,
                        const std::string& listen = {}) {
  return "# written by foundation_test\n"
         "data_dir = \"" +
         agent.data_dir().string() +
         "\"\n"
         "shutdown_timeout = \"10s\"\n"
         "\n"
         "[log]\n"
         "level = \"" +
         std::string(level) +
         "\"\n"
         "\n"
         "[api]\n"
         "listen = \"" +
         (listen.empty() ? agent.addr() : listen) +
         "\"\n"
         "\n"
         "[peer]\n"
         "listen = \"" +
         agent.peer_addr() + "\"\n";
}

// The sum of the samples of metric `name` whose label set contains every
// one of `labels` (e.g. `method="GET"`), from Prometheus text.
double metric_sum(const std::string& text, const std::string& name,
                  const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (const std::string& line : split(text, '\n', true)) {
    if (line[0] == '#') continue;
    if (!starts_with(line, name)) continue;
    char after = line.size() > name.size() ? line[name.size()] : '\0';
    if (after != '{' && after != ' ') continue;
    bool match = true;
    for (const std::string& l : labels) match = match && contains(line, l);
    if (!match) continue;
    size_t space = line.rfind(' ');
    sum += std::stod(line.substr(space + 1));
  }
  return sum;
}

bool has_metric(const std::string& text, const std::string& name) {
  for (const std::string& line : split(text, '\n', true)) {
    if (starts_with(line, name + " ") || starts_with(line, name + "{")) {
      return true;
    }
  }
  return false;
}

std::string get_metrics(const AgentProcess& agent) {
  Result<HttpResponse> r = http_get(agent.host_port(), "/metrics");
  NW_REQUIRE_OK(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  return r->body;
}

// Runs nwagent directly (for runs expected to fail before serving).
ProcessResult run_agent(std::vector<std::string> args,
                        const std::filesystem::path& cwd = {}) {
  args.insert(args.begin(), agent_binary());
  return run(args, {}, std::nullopt, 30s, cwd);
}

}  // namespace

TEST_SUITE("integration.foundation") {
  // ---- agent: startup, identity, data dir ----

  TEST_CASE("agent.status_via_nwctl") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());

    json s = status_of(agent);
    INFO(s.dump(2));
    for (const char* field :
         {"node_id", "version", "commit", "data_dir", "role", "api_addr",
          "log_level", "started_at", "uptime_seconds", "pid"}) {
      CHECK_MESSAGE(s.contains(field), "missing field ", field);
    }
    REQUIRE(s["node_id"].is_string());
    CHECK(std::regex_match(s["node_id"].get<std::string>(),
                           std::regex("nw-[0-9a-f]{8}")));
    CHECK(s["role"] == "leader");  // a lone agent leads its cluster of one
    CHECK(s["api_addr"] == agent.addr());
    CHECK(s["log_level"] == "debug");
    CHECK(s["pid"] == agent.pid());
    CHECK(s["uptime_seconds"].is_number());
    CHECK(s["version"].is_string());
    CHECK_FALSE(s["version"].get<std::string>().empty());
    REQUIRE(s["data_dir"].is_string());
    CHECK(std::filesystem::equivalent(s["data_dir"].get<std::string>(),
                                      agent.data_dir()));
  }

  TEST_CASE("agent.node_id_kept_across_restart") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());
    json before = status_of(agent);
    pid_t first_pid = agent.pid();

    NW_REQUIRE_OK(agent.restart());
    json after = status_of(agent);
    CHECK(agent.pid() != first_pid);
    CHECK(after["pid"] == agent.pid());
    CHECK(after["node_id"] == before["node_id"]);
  }

  TEST_CASE("agent.explicit_node_id_is_used") {
    TempDir dir;
    AgentOptions opts;
    opts.extra_args = {"--node-id", "edge-1"};
    AgentProcess agent(dir, opts);
    NW_REQUIRE_OK(agent.start());
    CHECK(status_of(agent)["node_id"] == "edge-1");
  }

  TEST_CASE("agent.second_agent_on_same_data_dir_is_refused") {
    TempDir dir;
    AgentProcess first(dir);
    NW_REQUIRE_OK(first.start());

    ProcessResult r = run_agent({"--data-dir", first.data_dir().string(),
                                 "--api", dead_addr(), "--log-level", "debug"});
    INFO(r.describe());
    CHECK(r.exit_code == 4);
    CHECK(contains(r.err, "is in use by another nwagent (pid " +
                              std::to_string(first.pid()) + ")"));
    // The first one is unharmed.
    CHECK(first.running());
    CHECK(status_of(first)["pid"] == first.pid());
  }

  // ---- agent: configuration file ----

  TEST_CASE("config.bad_value_exits_2_with_file_and_line") {
    TempDir dir;
    dir.write_file("agent.toml",
                   "# line 1\n"
                   "data_dir = \"" +
                       (dir / "data").string() +
                       "\"\n"
                       "\n"
                       "[api]\n"
                       "listen = \"7070\"\n");
    // The file name as given on the command line, relative to the cwd.
    ProcessResult r = run_agent({"--config", "agent.toml"}, dir.path());
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err,
                   "agent.toml:5: api.listen: expected host:port, got "
                   "\"7070\""));
  }

  TEST_CASE("config.unknown_key_is_rejected") {
    TempDir dir;
    std::string data_line = "data_dir = \"" + (dir / "data").string() + "\"\n";
    std::string expected;
    SUBCASE("top level") {
      dir.write_file("agent.toml", data_line + "colour = \"blue\"\n");
      expected = "agent.toml:2: colour: unknown key";
    }
    SUBCASE("in a table") {
      dir.write_file("agent.toml", data_line +
                                       "[api]\n"
                                       "listen = \"127.0.0.1:7070\"\n"
                                       "bogus = 1\n");
      expected = "agent.toml:4: api.bogus: unknown key";
    }
    ProcessResult r = run_agent({"--config", "agent.toml"}, dir.path());
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, expected));
  }

  // ---- nwctl: addresses, output, exit codes ----

  TEST_CASE("nwctl.dead_address_exits_5_with_hint") {
    std::string dead = dead_addr();
    ProcessResult r = run_nwctl({"--addr", dead, "status"});
    INFO(r.describe());
    CHECK(r.exit_code == 5);
    CHECK(contains(r.err, "no agent at " + dead));
    CHECK(contains(r.err, "NW_ADDR"));
  }

  TEST_CASE("nwctl.address_list_fails_over") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());
    json s = nwctl_json(
        {"--addr", dead_addr() + "," + agent.addr(), "-o", "json", "status"});
    CHECK(s["pid"] == agent.pid());
  }

  TEST_CASE("nwctl.nw_addr_env_and_http_prefix") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());
    SUBCASE("NW_ADDR") {
      CHECK(nwctl_json({"-o", "json", "status"},
                       {{"NW_ADDR", agent.addr()}})["pid"] == agent.pid());
    }
    SUBCASE("NW_ADDR with http://") {
      CHECK(nwctl_json({"-o", "json", "status"},
                       {{"NW_ADDR", "http://" + agent.addr()}})["pid"] ==
            agent.pid());
    }
    SUBCASE("--addr with http://") {
      CHECK(nwctl_json({"--addr", "http://" + agent.addr(), "-o", "json",
                        "status"})["pid"] == agent.pid());
    }
    SUBCASE("--addr beats NW_ADDR") {
      CHECK(nwctl_json({"--addr", agent.addr(), "-o", "json", "status"},
                       {{"NW_ADDR", dead_addr()}})["pid"] == agent.pid());
    }
  }

  TEST_CASE("nwctl.json_output_of_status_and_version") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());
    json s = status_of(agent);

    json v = nwctl_json({"--addr", agent.addr(), "-o", "json", "version"});
    INFO(v.dump(2));
    REQUIRE(v["client"].is_object());
    CHECK(v["client"]["version"].is_string());
    CHECK(v["client"]["commit"].is_string());
    REQUIRE(v["server"].is_object());
    CHECK(v["server"]["version"] == s["version"]);
    CHECK(v["server"]["commit"] == s["commit"]);

    SUBCASE("json is the default when stdout is not a terminal") {
      CHECK(nwctl_json({"--addr", agent.addr(), "status"})["node_id"] ==
            s["node_id"]);
    }
    SUBCASE("NW_OUTPUT=json") {
      CHECK(nwctl_json({"--addr", agent.addr(), "status"},
                       {{"NW_OUTPUT", "json"}})["node_id"] == s["node_id"]);
    }
    SUBCASE("-o table is for humans") {
      ProcessResult r =
          run_nwctl({"--addr", agent.addr(), "-o", "table", "status"});
      INFO(r.describe());
      CHECK(r.exit_code == 0);
      CHECK(contains(r.out, s["node_id"].get<std::string>()));
      CHECK(json::parse(r.out, nullptr, false).is_discarded());
    }
  }

  TEST_CASE("nwctl.version_without_server") {
    ProcessResult r =
        run_nwctl({"--addr", dead_addr(), "-o", "json", "version"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    json v = parse_json(r.out);
    REQUIRE(v.is_object());
    CHECK(v["client"]["version"].is_string());
    CHECK_FALSE(v["client"]["version"].get<std::string>().empty());
    CHECK(v.contains("server"));
    CHECK(v["server"].is_null());
  }

  TEST_CASE("nwctl.usage_error_exits_2") {
    std::vector<std::string> args;
    SUBCASE("unknown flag") { args = {"--no-such-flag", "status"}; }
    SUBCASE("unknown command") { args = {"no-such-command"}; }
    ProcessResult r = run_nwctl(args);
    INFO(r.describe());
    CHECK(r.exit_code == 2);
    CHECK(contains(lower(r.err), "usage"));
  }

  TEST_CASE("nwctl.completion_scripts") {
    for (const char* shell : {"bash", "zsh", "fish"}) {
      ProcessResult r = run_nwctl({"completion", shell});
      INFO(r.describe());
      CHECK(r.exit_code == 0);
      CHECK(contains(r.out, "nwctl"));
    }
    ProcessResult r = run_nwctl({"completion", "tcsh"});
    INFO(r.describe());
    CHECK(r.exit_code == 2);
  }

  TEST_CASE("binaries.help_and_version_exit_0") {
    ProcessResult agent_help = run_agent({"--help"});
    INFO(agent_help.describe());
    CHECK(agent_help.exit_code == 0);
    CHECK(contains(agent_help.out, "--config"));

    ProcessResult agent_version = run_agent({"--version"});
    INFO(agent_version.describe());
    CHECK(agent_version.exit_code == 0);
    CHECK_FALSE(agent_version.out.empty());

    ProcessResult ctl_help = run_nwctl({"--help"});
    INFO(ctl_help.describe());
    CHECK(ctl_help.exit_code == 0);
    CHECK(contains(ctl_help.out, "status"));
  }

  // ---- agent: HTTP endpoints ----

  TEST_CASE("agent.health_live_and_ready") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());

    Result<HttpResponse> live = http_get(agent.host_port(), "/v1/health/live");
    NW_REQUIRE_OK(live);
    CHECK(live->status == 200);
    CHECK(parse_json(live->body)["status"] == "ok");

    Result<HttpResponse> ready =
        http_get(agent.host_port(), "/v1/health/ready");
    NW_REQUIRE_OK(ready);
    CHECK(ready->status == 200);
    CHECK(parse_json(ready->body)["status"] == "ready");
  }

  TEST_CASE("agent.metrics_has_process_and_http_metrics") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());

    const std::vector<std::string> status_ok = {
        "route=\"/v1/status\"", "method=\"GET\"", "code=\"200\""};
    double before =
        metric_sum(get_metrics(agent), "nw_http_requests_total", status_ok);
    for (int i = 0; i < 3; ++i) {
      Result<HttpResponse> r = http_get(agent.host_port(), "/v1/status");
      NW_REQUIRE_OK(r);
      CHECK(r->status == 200);
    }
    std::string text = get_metrics(agent);
    INFO(text);
    CHECK(metric_sum(text, "nw_http_requests_total", status_ok) >= before + 3);
    CHECK(metric_sum(text, "process_resident_memory_bytes") > 0);
    CHECK(metric_sum(text, "process_open_fds") > 0);
    CHECK(has_metric(text, "process_cpu_seconds_total"));
    CHECK(has_metric(text, "nw_http_request_duration_seconds_bucket"));
    CHECK(contains(text, "# TYPE nw_http_requests_total counter"));
  }

  TEST_CASE("agent.unknown_path_is_404_json") {
    TempDir dir;
    AgentProcess agent(dir);
    NW_REQUIRE_OK(agent.start());
    Result<HttpResponse> r = http_get(agent.host_port(), "/v1/no-such-thing");
    NW_REQUIRE_OK(r);
    INFO(r->body);
    CHECK(r->status == 404);
    json body = parse_json(r->body);
    REQUIRE(body["error"].is_object());
    CHECK(body["error"]["code"] == "not_found");
  }

  // ---- agent: signals ----

  TEST_CASE("agent.sigterm_and_sigint_exit_0_and_log_stopped") {
    for (int sig : {SIGTERM, SIGINT}) {
      CAPTURE(sig);
      TempDir dir;
      AgentProcess agent(dir);
      NW_REQUIRE_OK(agent.start());
      NW_REQUIRE_OK(agent.signal(sig));
      CHECK(agent.wait_exit(20s) == 0);
      INFO(agent.log_tail());
      CHECK(contains(agent.current_log(), "stopped"));
    }
  }

  TEST_CASE("agent.sighup_reloads_log_level") {
    TempDir dir;
    AgentOptions opts;
    opts.config = dir / "agent.toml";
    AgentProcess agent(dir, opts);
    dir.write_file("agent.toml", config_text(agent, "info"));
    NW_REQUIRE_OK(agent.start());
    REQUIRE(status_of(agent)["log_level"] == "info");

    dir.write_file("agent.toml", config_text(agent, "debug"));
    NW_REQUIRE_OK(agent.signal(SIGHUP));
    CHECK(agent.wait_for_log("config reloaded"));
    CHECK(wait_until([&] { return status_of(agent)["log_level"] == "debug"; },
                     10s, "log_level debug in /v1/status"));
    CHECK(agent.running());
  }

  TEST_CASE("agent.sighup_with_broken_file_keeps_old_config") {
    TempDir dir;
    AgentOptions opts;
    opts.config = dir / "agent.toml";
    AgentProcess agent(dir, opts);
    dir.write_file("agent.toml", config_text(agent, "warn"));
    NW_REQUIRE_OK(agent.start());
    REQUIRE(status_of(agent)["log_level"] == "warn");

    size_t seen = agent.current_log().size();
    dir.write_file("agent.toml", "[log\nlevel = \"debug\"\n");
    NW_REQUIRE_OK(agent.signal(SIGHUP));
    CHECK(wait_until(
        [&] { return contains(agent.current_log().substr(seen), "ERROR"); },
        10s, "an ERROR line about the broken config"));
    INFO(agent.log_tail());
    CHECK(agent.running());
    json s = status_of(agent);
    CHECK(s["log_level"] == "warn");
    CHECK(agent.running());
  }

  TEST_CASE("agent.sighup_reports_keys_that_need_a_restart") {
    TempDir dir;
    AgentOptions opts;
    opts.config = dir / "agent.toml";
    AgentProcess agent(dir, opts);
    dir.write_file("agent.toml", config_text(agent, "info"));
    NW_REQUIRE_OK(agent.start());

    dir.write_file("agent.toml", config_text(agent, "info", dead_addr()));
    NW_REQUIRE_OK(agent.signal(SIGHUP));
    CHECK(agent.wait_for_log("needs a restart"));
    // Still serving on the old address.
    CHECK(status_of(agent)["api_addr"] == agent.addr());
  }

  // ---- agent: log format, dev mode ----

  TEST_CASE("agent.json_log_lines_parse") {
    TempDir dir;
    AgentOptions opts;
    opts.extra_args = {"--log-format", "json"};
    AgentProcess agent(dir, opts);
    NW_REQUIRE_OK(agent.start());
    status_of(agent);
    REQUIRE(agent.stop() == 0);

    std::vector<std::string> lines = split(agent.current_log(), '\n', true);
    CHECK(lines.size() >= 2);
    bool saw_stopped = false;
    for (const std::string& line : lines) {
      INFO("log line: ", line);
      json j = json::parse(line, nullptr, false);
      REQUIRE_FALSE(j.is_discarded());
      for (const char* field : {"ts", "level", "component", "msg"}) {
        CHECK_MESSAGE(j.contains(field), "missing ", field);
      }
      saw_stopped =
          saw_stopped || (j["msg"].is_string() &&
                          contains(j["msg"].get<std::string>(), "stopped"));
    }
    CHECK(saw_stopped);
  }

  TEST_CASE("agent.dev_mode_flags_override_its_defaults") {
    // --dev with --api: the dev defaults (data in ./.nightwatch) but a free
    // port, so this runs even where 7070 is busy.
    TempDir dir;
    std::filesystem::create_directories(dir / "work");
    AgentOptions opts;
    opts.name = "dev";
    opts.default_flags = false;
    opts.cwd = dir / "work";
    Result<std::uint16_t> port = free_port();
    NW_REQUIRE_OK(port);
    opts.port = *port;
    Result<std::uint16_t> peer = free_port();
    NW_REQUIRE_OK(peer);
    opts.extra_args = {"--dev", "--api", "127.0.0.1:" + std::to_string(*port),
                       "--peer", "127.0.0.1:" + std::to_string(*peer)};
    AgentProcess agent(dir, opts);
    NW_REQUIRE_OK(agent.start());
    CHECK(std::filesystem::is_directory(dir / "work" / ".nightwatch"));
    json s = status_of(agent);
    CHECK(std::filesystem::equivalent(s["data_dir"].get<std::string>(),
                                      dir / "work" / ".nightwatch"));
    CHECK(s["api_addr"] == agent.addr());
  }

  TEST_CASE("agent.dev_mode_uses_cwd_and_port_7070") {
    if (!port_is_free(7070) || !port_is_free(7071)) {
      MESSAGE(
          "skipped: 127.0.0.1:7070 or 7071 is busy, and --dev listens "
          "there");
      return;
    }
    TempDir dir;
    std::filesystem::create_directories(dir / "work");
    AgentOptions opts;
    opts.name = "dev";
    opts.default_flags = false;
    opts.port = 7070;
    opts.cwd = dir / "work";
    opts.extra_args = {"--dev"};
    AgentProcess agent(dir, opts);
    Status started = agent.start();
    if (!started.ok() && agent.current_log().find("address already in use") !=
                             std::string::npos) {
      // Another process (a parallel test run) took 7070/7071 after the
      // check.
      MESSAGE(
          "skipped: 127.0.0.1:7070 or 7071 was taken while the agent "
          "started");
      return;
    }
    NW_REQUIRE_OK(started);
    REQUIRE(status_of(agent)["pid"] == agent.pid());
    CHECK(std::filesystem::is_directory(dir / "work" / ".nightwatch"));
    json s = status_of(agent);
    CHECK(s["api_addr"] == "127.0.0.1:7070");
    CHECK(std::filesystem::equivalent(s["data_dir"].get<std::string>(),
                                      dir / "work" / ".nightwatch"));
    CHECK(agent.stop() == 0);
  }
}

}  // namespace nw::testsupport
