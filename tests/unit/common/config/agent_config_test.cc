#include <doctest/doctest.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/config/config.h"
#include "tests/support/temp_dir.h"

namespace nw::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The error message of a parse that must fail.
std::string parse_error(std::string_view text) {
  auto r = parse_toml(text, "agent.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::invalid_argument);
  CHECK(r.error().hint ==
        "see man nightwatch.toml or examples/agent.toml for every key");
  return r.error().message;
}

// A file in a fresh temp folder, removed with the folder at scope exit.
class TempFile {
 public:
  explicit TempFile(std::string_view content)
      : path_(dir_.write_file("agent.toml", content).string()) {}
  const std::string& path() const { return path_; }
  std::string dir() const { return dir_.path().string(); }

 private:
  testsupport::TempDir dir_;
  std::string path_;
};

}  // namespace

TEST_SUITE("config.agent_config") {
  TEST_CASE("defaults.match_documented_values") {
    AgentConfig cfg;
    CHECK(cfg.node_id.empty());
    CHECK(cfg.data_dir == "/var/lib/nightwatch");
    CHECK(cfg.log.level == log::Level::info);
    CHECK(cfg.log.format == log::Format::text);
    CHECK(cfg.log.file.empty());
    CHECK(cfg.api.listen == HostPort{"127.0.0.1", 7070});
    CHECK(cfg.api.threads == 64);
    CHECK(cfg.api.read_timeout == seconds(30));
    CHECK(cfg.api.write_timeout == seconds(30));
    CHECK(cfg.api.max_body_size == 16u * 1024 * 1024);
    CHECK(cfg.shutdown_timeout == seconds(10));
    CHECK(validate(cfg).ok());
  }

  TEST_CASE("keys.default_text_matches_default_config") {
    AgentConfig cfg;
    for (const KeyInfo& k : keys()) {
      CAPTURE(k.key);
      CHECK(get_key(cfg, k.key) == k.default_text);
      CHECK_FALSE(k.description.empty());
      CHECK_FALSE(k.type.empty());
      std::string flag = k.key;
      for (char& c : flag) {
        if (c == '.' || c == '_') c = '-';
      }
      CHECK(k.flag == flag);
      CHECK(k.live == (k.key == "log.level"));
    }
    CHECK(keys().size() == 22);
  }

  TEST_CASE("find_key.by_key_flag_and_alias") {
    const KeyInfo* by_key = find_key("api.listen");
    REQUIRE(by_key != nullptr);
    CHECK(find_key("api-listen") == by_key);
    CHECK(find_key("api") == by_key);
    CHECK(find_key("--api") == by_key);
    CHECK(find_key("api.max_body_size") == find_key("api-max-body-size"));
    CHECK(find_key("apii") == nullptr);
    CHECK(find_key("log") == nullptr);
  }

  TEST_CASE("parse_toml.every_key") {
    auto r = parse_toml(R"(node_id = "node-1.a_b"
data_dir = "/srv/nw"
shutdown_timeout = "1m30s"

[log]
level = "debug"
format = "json"
file = "/var/log/nw.log"

[api]
listen = "[::1]:8080"
threads = 4
read_timeout = "250ms"
write_timeout = "2m"
max_body_size = "1MiB"
)",
                        "agent.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    const AgentConfig& cfg = *r;
    CHECK(cfg.node_id == "node-1.a_b");
    CHECK(cfg.data_dir == "/srv/nw");
    CHECK(cfg.shutdown_timeout == seconds(90));
    CHECK(cfg.log.level == log::Level::debug);
    CHECK(cfg.log.format == log::Format::json);
    CHECK(cfg.log.file == "/var/log/nw.log");
    CHECK(cfg.api.listen == HostPort{"::1", 8080});
    CHECK(cfg.api.threads == 4);
    CHECK(cfg.api.read_timeout == milliseconds(250));
    CHECK(cfg.api.write_timeout == seconds(120));
    CHECK(cfg.api.max_body_size == 1024u * 1024);
  }

  TEST_CASE("parse_toml.empty_text_gives_base") {
    AgentConfig base = dev_defaults();
    base.api.threads = 3;
    auto r = parse_toml("", "agent.toml", base);
    REQUIRE(r.ok());
    CHECK(*r == base);
  }

  TEST_CASE("parse_toml.overrides_only_keys_present") {
    AgentConfig base;
    base.node_id = "kept";
    base.api.threads = 2;
    auto r = parse_toml("[api]\nthreads = 5\n", "agent.toml", base);
    REQUIRE(r.ok());
    CHECK(r->node_id == "kept");
    CHECK(r->api.threads == 5);
    CHECK(r->api.listen == base.api.listen);
  }

  TEST_CASE("parse_toml.dotted_keys_work_like_tables") {
    auto r = parse_toml("api.threads = 3\nlog.level = \"warn\"\n", "a.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->api.threads == 3);
    CHECK(r->log.level == log::Level::warn);
  }

  TEST_CASE("parse_toml.size_as_integer_bytes") {
    auto r = parse_toml("[api]\nmax_body_size = 4096\n", "agent.toml");
    REQUIRE(r.ok());
    CHECK(r->api.max_body_size == 4096);
  }

  TEST_CASE("parse_toml.bad_host_port_names_line") {
    std::string text =
        "# comment\n\n[api]\n"
        "threads = 8\n"
        "listen = \"7070\"\n";
    CHECK(parse_error(text) ==
          "agent.toml:5: api.listen: expected host:port, got \"7070\"");
  }

  TEST_CASE("parse_toml.bad_host_port_on_line_12") {
    std::string text;
    for (int i = 0; i < 10; ++i) text += "# filler\n";
    text += "[api]\nlisten = \"7070\"\n";
    CHECK(parse_error(text) ==
          "agent.toml:12: api.listen: expected host:port, got \"7070\"");
  }

  TEST_CASE("parse_toml.unknown_key_names_line") {
    std::string msg = parse_error("node_id = \"a\"\n\nbogus_key = 1\n");
    CHECK(msg ==
          "agent.toml:3: bogus_key: unknown key (known keys: node_id, "
          "data_dir, log.level, log.format, log.file, api.listen, "
          "api.threads, api.read_timeout, api.write_timeout, "
          "api.max_body_size, peer.listen, peer.advertise, "
          "cluster.bootstrap_expect, cluster.join, raft.tick_interval, "
          "raft.election_ticks, raft.heartbeat_ticks, "
          "raft.snapshot_threshold, jobs.workers, jobs.lease, "
          "jobs.kill_grace, shutdown_timeout)");
  }

  TEST_CASE("parse_toml.unknown_key_in_table_names_line") {
    CHECK(parse_error("[log]\nlevel = \"info\"\ncolour = true\n") ==
          "agent.toml:3: log.colour: unknown key (known keys: node_id, "
          "data_dir, log.level, log.format, log.file, api.listen, "
          "api.threads, api.read_timeout, api.write_timeout, "
          "api.max_body_size, peer.listen, peer.advertise, "
          "cluster.bootstrap_expect, cluster.join, raft.tick_interval, "
          "raft.election_ticks, raft.heartbeat_ticks, "
          "raft.snapshot_threshold, jobs.workers, jobs.lease, "
          "jobs.kill_grace, shutdown_timeout)");
  }

  TEST_CASE("parse_toml.unknown_table_names_line") {
    CHECK(parse_error("data_dir = \"/x\"\n\n[metrics]\nport = 1\n") ==
          "agent.toml:3: metrics: unknown table (known tables: log, api, peer, "
          "cluster, raft, jobs)");
    CHECK(parse_error("[api]\n[api.tls]\ncert = \"x\"\n") ==
          "agent.toml:2: api.tls: unknown table (known tables: log, api, peer, "
          "cluster, raft, jobs)");
  }

  TEST_CASE("parse_toml.did_you_mean") {
    CHECK(parse_error("\n\napii = \"127.0.0.1:1\"\n") ==
          "agent.toml:3: apii: unknown key; did you mean api?");
    CHECK(parse_error("[apii]\nlisten = \"127.0.0.1:1\"\n") ==
          "agent.toml:1: apii: unknown table; did you mean api?");
    CHECK(parse_error("[api]\nlistn = \"127.0.0.1:1\"\n") ==
          "agent.toml:2: api.listn: unknown key; did you mean api.listen?");
    CHECK(parse_error("node-id = \"a\"\n") ==
          "agent.toml:1: node-id: unknown key; did you mean node_id?");
  }

  TEST_CASE("parse_toml.key_in_wrong_table_suggests_right_one") {
    CHECK(parse_error("[log]\nlisten = \"127.0.0.1:1\"\n") ==
          "agent.toml:2: log.listen: unknown key; did you mean api.listen?");
    CHECK(parse_error("threads = 4\n") ==
          "agent.toml:1: threads: unknown key; did you mean api.threads?");
  }

  TEST_CASE("parse_toml.earliest_problem_is_reported") {
    // toml++ iterates keys alphabetically; the error must follow the file.
    CHECK(parse_error("[api]\nthreads = 0\nlisten = \"x\"\n") ==
          "agent.toml:2: api.threads: expected an integer from 1 to 256, "
          "got 0");
  }

  TEST_CASE("parse_toml.syntax_error_has_line_and_column") {
    // toml++ points at the character after "listen = ": line 3, column 10.
    std::string msg = parse_error("[api]\nthreads = 4\nlisten = \n");
    CHECK(msg.rfind("agent.toml:3:10: TOML syntax error: ", 0) == 0);
    CHECK(msg.find("expected value") != std::string::npos);
    // A repeated key is a TOML error too, reported where it repeats.
    std::string dup = parse_error("[api]\nthreads = 4\nthreads = 5\n");
    CHECK(dup.rfind("agent.toml:3:", 0) == 0);
    CHECK(dup.find("TOML syntax error: ") != std::string::npos);
    CHECK(dup.find("threads") != std::string::npos);
  }

  TEST_CASE("parse_toml.wrong_toml_type") {
    CHECK(parse_error("[api]\n\nthreads = \"8\"\n") ==
          "agent.toml:3: api.threads: expected integer, got string \"8\"");
    CHECK(parse_error("[api]\nlisten = 7070\n") ==
          "agent.toml:2: api.listen: expected host:port, got integer 7070");
    CHECK(parse_error("shutdown_timeout = 10\n") ==
          "agent.toml:1: shutdown_timeout: expected duration, got integer "
          "10");
    CHECK(parse_error("[api]\nmax_body_size = true\n") ==
          "agent.toml:2: api.max_body_size: expected size, got boolean true");
    CHECK(parse_error("[api]\nthreads = 1.5\n") ==
          "agent.toml:2: api.threads: expected integer, got float 1.5");
    CHECK(parse_error("data_dir = [\"a\"]\n") ==
          "agent.toml:1: data_dir: expected path, got array");
    CHECK(parse_error("log = \"debug\"\n") ==
          "agent.toml:1: log: expected table, got string \"debug\"");
    CHECK(parse_error("[node_id]\nx = 1\n") ==
          "agent.toml:1: node_id: expected string, got table");
  }

  TEST_CASE("parse_toml.bad_durations_and_sizes") {
    CHECK(parse_error("[api]\nread_timeout = \"30\"\n") ==
          "agent.toml:2: api.read_timeout: expected a duration such as "
          "500ms, 10s, 1m30s or 2h, got \"30\"");
    CHECK(parse_error("[api]\nread_timeout = \"0s\"\n") ==
          "agent.toml:2: api.read_timeout: expected a duration greater than "
          "0, got 0s");
    CHECK(parse_error("[api]\nmax_body_size = \"16 MiB\"\n") ==
          "agent.toml:2: api.max_body_size: expected a size such as 4096, "
          "64KiB, 16MiB or 1GiB, got \"16 MiB\"");
    CHECK(parse_error("[api]\nmax_body_size = 512\n") ==
          "agent.toml:2: api.max_body_size: expected a size of at least "
          "1KiB, got 512");
    CHECK(parse_error("[api]\nmax_body_size = -1\n") ==
          "agent.toml:2: api.max_body_size: expected a size such as 4096, "
          "64KiB, 16MiB or 1GiB, got \"-1\"");
  }

  TEST_CASE("parse_toml.bad_values") {
    CHECK(parse_error("node_id = \"Node1\"\n") ==
          "agent.toml:1: node_id: expected up to 63 lowercase letters, "
          "digits, '-', '_' or '.', starting with a letter or digit, got "
          "\"Node1\"");
    CHECK(parse_error("node_id = \"-a\"\n").find("node_id: expected") !=
          std::string::npos);
    CHECK(parse_error("node_id = \"" + std::string(64, 'a') + "\"\n")
              .find("node_id: expected") != std::string::npos);
    CHECK(parse_toml("node_id = \"" + std::string(63, 'a') + "\"\n", "a").ok());
    CHECK(parse_error("[log]\nlevel = \"loud\"\n") ==
          "agent.toml:2: log.level: expected trace|debug|info|warn|error, "
          "got \"loud\"");
    CHECK(parse_error("[log]\nformat = \"xml\"\n") ==
          "agent.toml:2: log.format: expected text|json, got \"xml\"");
    CHECK(parse_error("[api]\nthreads = 257\n") ==
          "agent.toml:2: api.threads: expected an integer from 1 to 256, "
          "got 257");
    CHECK(parse_error("data_dir = \"\"\n") ==
          "agent.toml:1: data_dir: expected a path, got \"\"");
  }

  TEST_CASE("load_file.reads_and_names_path") {
    TempFile f("[api]\nthreads = 2\n");
    auto r = load_file(f.path());
    REQUIRE(r.ok());
    CHECK(r->api.threads == 2);

    TempFile bad("[api]\nthreads = \"2\"\n");
    auto e = load_file(bad.path());
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().message ==
          bad.path() + ":2: api.threads: expected integer, got string \"2\"");
  }

  TEST_CASE("load_file.missing_is_not_found") {
    auto r = load_file("/nonexistent/nightwatch/agent.toml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::not_found);
    CHECK(r.error().hint == "check the path given to --config");
    CHECK(r.error().message.find("/nonexistent/nightwatch/agent.toml") !=
          std::string::npos);
  }

  TEST_CASE("load_file.directory_is_io_error") {
    TempFile f("");
    auto r = load_file(f.dir());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::io_error);
  }

  TEST_CASE("set_key.by_flag_and_alias") {
    AgentConfig cfg;
    REQUIRE(set_key(cfg, "api-listen", "0.0.0.0:9000").ok());
    CHECK(cfg.api.listen == HostPort{"0.0.0.0", 9000});
    REQUIRE(set_key(cfg, "api", "localhost:1").ok());
    CHECK(cfg.api.listen == HostPort{"localhost", 1});
    REQUIRE(set_key(cfg, "--log-level", "debug").ok());
    CHECK(cfg.log.level == log::Level::debug);
    REQUIRE(set_key(cfg, "api.max_body_size", "2MiB").ok());
    CHECK(cfg.api.max_body_size == 2u * 1024 * 1024);
    REQUIRE(set_key(cfg, "api-threads", "16").ok());
    CHECK(cfg.api.threads == 16);
    REQUIRE(set_key(cfg, "shutdown-timeout", "0").ok());
    CHECK(cfg.shutdown_timeout == milliseconds(0));
  }

  TEST_CASE("set_key.error_names_flag_and_keeps_config") {
    AgentConfig cfg;
    Status s = set_key(cfg, "api-listen", "x");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::invalid_argument);
    CHECK(s.error().message == "--api-listen: expected host:port, got \"x\"");
    CHECK(cfg == AgentConfig{});

    CHECK(set_key(cfg, "api", "x").error().message ==
          "--api: expected host:port, got \"x\"");
    CHECK(set_key(cfg, "api.listen", "x").error().message ==
          "--api-listen: expected host:port, got \"x\"");
    CHECK(set_key(cfg, "api-threads", "eight").error().message ==
          "--api-threads: expected integer, got \"eight\"");
    CHECK(set_key(cfg, "api-threads", "0").error().message ==
          "--api-threads: expected an integer from 1 to 256, got 0");
    CHECK(set_key(cfg, "node-id", "UPPER")
              .error()
              .message.rfind("--node-id: expected", 0) == 0);
    CHECK(cfg == AgentConfig{});
  }

  TEST_CASE("set_key.unknown_flag") {
    AgentConfig cfg;
    CHECK(set_key(cfg, "api-listn", "x").error().message ==
          "--api-listn: unknown option; did you mean --api-listen?");
    CHECK(set_key(cfg, "zzz", "x").error().message == "--zzz: unknown option");
  }

  TEST_CASE("get_key.renders_like_default_text") {
    AgentConfig cfg;
    cfg.api.listen = HostPort{"::1", 80};
    cfg.api.read_timeout = milliseconds(90500);
    cfg.api.max_body_size = 1000;
    cfg.log.format = log::Format::json;
    CHECK(get_key(cfg, "api.listen") == "[::1]:80");
    CHECK(get_key(cfg, "api-listen") == "[::1]:80");
    CHECK(get_key(cfg, "api.read_timeout") == "1m30s500ms");
    CHECK(get_key(cfg, "api.max_body_size") == "1000");
    CHECK(get_key(cfg, "log.format") == "json");
    CHECK(get_key(cfg, "nope").empty());
  }

  TEST_CASE("get_key.round_trips_through_set_key") {
    AgentConfig changed;
    changed.node_id = "n1";
    changed.data_dir = "/d";
    changed.log = {log::Level::error, log::Format::json, "/l"};
    changed.api = {HostPort{"::1", 1}, 3, seconds(1), seconds(2), 4096};
    changed.shutdown_timeout = seconds(5);
    AgentConfig copy;
    for (const KeyInfo& k : keys()) {
      CAPTURE(k.key);
      REQUIRE(set_key(copy, k.key, get_key(changed, k.key)).ok());
    }
    CHECK(copy == changed);
  }

  TEST_CASE("diff.lists_changed_keys_with_live_flag") {
    AgentConfig a;
    AgentConfig b;
    CHECK(diff(a, b).empty());
    b.log.level = log::Level::debug;
    b.api.threads = 4;
    auto changes = diff(a, b);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0].key == "log.level");
    CHECK(changes[0].old_value == "info");
    CHECK(changes[0].new_value == "debug");
    CHECK(changes[0].live);
    CHECK(changes[1].key == "api.threads");
    CHECK(changes[1].old_value == "64");
    CHECK(changes[1].new_value == "4");
    CHECK_FALSE(changes[1].live);
  }

  TEST_CASE("validate.checks_ranges") {
    AgentConfig cfg;
    cfg.api.threads = 0;
    CHECK(validate(cfg).error().message ==
          "api.threads: expected an integer from 1 to 256, got 0");
    cfg = {};
    cfg.api.write_timeout = Duration(0);
    CHECK(validate(cfg).error().message ==
          "api.write_timeout: expected a duration greater than 0, got 0s");
    cfg = {};
    cfg.api.max_body_size = 1023;
    CHECK(validate(cfg).error().code == Code::invalid_argument);
    cfg = {};
    cfg.node_id = "a b";
    CHECK_FALSE(validate(cfg).ok());
    cfg = {};
    cfg.log.level = log::Level::off;
    CHECK_FALSE(validate(cfg).ok());
    cfg = {};
    cfg.api.max_body_size = 1024;
    cfg.api.threads = 256;
    CHECK(validate(cfg).ok());
  }

  TEST_CASE("dev_defaults.local_data_and_api") {
    AgentConfig dev = dev_defaults();
    CHECK(dev.data_dir == "./.nightwatch");
    CHECK(dev.api.listen == HostPort{"127.0.0.1", 7070});
    CHECK(validate(dev).ok());
    auto changes = diff(AgentConfig{}, dev);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].key == "data_dir");
  }
}

}  // namespace nw::config
