#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/log.h"
#include "common/base/net.h"
#include "common/base/result.h"
#include "common/base/units.h"

// The agent's configuration: TOML text -> validated structs.
//
// Every key lives in one table (see keys()), from which the TOML parser, the
// nwagent flags, get_key/diff, examples/agent.toml and the man-page test are
// all derived, so a key cannot be documented in one place and missing in
// another. Stateless: every function here may be called from any thread.
namespace nw::config {

// Where and how the agent logs ([log] in the file).
struct LogConfig {
  log::Level level = log::Level::info;
  log::Format format = log::Format::text;
  std::string file;  // empty: stderr

  bool operator==(const LogConfig&) const = default;
};

// The HTTP API that nwctl talks to ([api] in the file).
struct ApiConfig {
  HostPort listen{"127.0.0.1", 7070};
  int threads = 64;                                   // 1..256
  Duration read_timeout = std::chrono::seconds(30);   // > 0
  Duration write_timeout = std::chrono::seconds(30);  // > 0
  std::uint64_t max_body_size = 16ULL << 20;          // >= 1KiB

  bool operator==(const ApiConfig&) const = default;
};

// The peer port that agents use among themselves for Raft ([peer]).
struct PeerConfig {
  HostPort listen{"127.0.0.1", 7071};
  // The address other agents dial; empty port 0: the listen address.
  HostPort advertise{"", 0};

  bool operator==(const PeerConfig&) const = default;
};

// How the agent finds its cluster ([cluster]). Only used until the agent
// is a member: afterwards the data directory remembers the cluster.
struct ClusterConfig {
  // The first this-many agents that find each other (through `join`) form
  // the cluster together; 1 with no `join`: a cluster of one.
  int bootstrap_expect = 1;  // 1..15
  // Peer addresses of other agents, dialed until one answers.
  std::vector<HostPort> join;

  bool operator==(const ClusterConfig&) const = default;
};

// Timings of the controller's Raft group ([raft]).
struct RaftConfig {
  Duration tick_interval = std::chrono::milliseconds(50);  // 1ms..10s
  // A follower starts an election after a random [n, 2n) ticks without a
  // leader; the leader sends a heartbeat every heartbeat_ticks.
  int election_ticks = 8;   // 2..1000, > heartbeat_ticks
  int heartbeat_ticks = 1;  // >= 1
  // Entries applied since the last snapshot that trigger a new one.
  std::int64_t snapshot_threshold = 10000;  // 16..2^40

  bool operator==(const RaftConfig&) const = default;
};

// The job runner of this agent ([jobs]).
struct JobsConfig {
  // Runs executed at once; more wait, highest priority first.
  int workers = 4;  // 1..1024
  // How long a run may go without a renewal from its agent before the
  // leader marks it lost; renewed every third of it.
  Duration lease = std::chrono::seconds(30);  // 3s..1h
  // SIGTERM -> SIGKILL of a run's process tree on timeout, kill, replace.
  Duration kill_grace = std::chrono::seconds(10);  // 0..10m

  bool operator==(const JobsConfig&) const = default;
};

// What one nwagent process runs with: defaults, then the config file, then
// flags (each source overrides only the keys it names), then validate().
struct AgentConfig {
  // Empty: generated on first start and kept in the data dir; otherwise
  // [a-z0-9][a-z0-9-_.]{0,62}.
  std::string node_id;
  std::string data_dir = "/var/lib/nightwatch";
  LogConfig log;
  ApiConfig api;
  PeerConfig peer;
  ClusterConfig cluster;
  RaftConfig raft;
  JobsConfig jobs;
  // How long in-flight work may take on SIGTERM.
  Duration shutdown_timeout = std::chrono::seconds(10);

  bool operator==(const AgentConfig&) const = default;
};

// One configuration key: the single source of truth from which the parser,
// the nwagent flags, the example file and the man-page test are all derived.
struct KeyInfo {
  std::string key;   // dotted TOML path: "api.listen"
  std::string flag;  // nwagent long flag without dashes: "api-listen"
  // Extra flags, e.g. {"api"} for api.listen, so `nwagent --api ...` works.
  std::vector<std::string> aliases;
  // What the value must look like, for errors and docs: "host:port",
  // "duration", "size", "string", "path", "integer",
  // "trace|debug|info|warn|error", "text|json".
  std::string type;
  // The default as TOML would spell it, unquoted: "127.0.0.1:7070", "30s".
  std::string default_text;
  std::string description;  // one sentence
  // true: applied on SIGHUP without a restart (only log.level for now).
  bool live = false;
};

// Every key, in documentation order.
const std::vector<KeyInfo>& keys();
// The key named by its dotted key, its flag or an alias (leading "--" is
// ignored); nullptr if there is none.
const KeyInfo* find_key(std::string_view key);

// Parses TOML text; `source_name` (e.g. "agent.toml") appears in errors.
// Starts from `base` and overrides only the keys present. Values are range
// checked as they are read, so an out-of-range value names its line.
// Errors (invalid_argument), each with a hint pointing at the docs:
//   "agent.toml:12: api.listen: expected host:port, got \"7070\""
//   "agent.toml:3: apii: unknown key; did you mean api?"
//   "agent.toml:5:10: TOML syntax error: <description>"
//   "agent.toml:7: api.threads: expected integer, got string \"8\""
Result<AgentConfig> parse_toml(std::string_view text,
                               std::string_view source_name,
                               AgentConfig base = {});

// Reads and parses a file; the source name in errors is `path` as given.
// not_found if the file does not exist, io_error if it cannot be read, and
// parse_toml's errors.
Result<AgentConfig> load_file(const std::string& path, AgentConfig base = {});

// Applies one key given as text (from an nwagent flag), named by key, flag
// or alias. invalid_argument "--api-listen: expected host:port, got \"x\""
// (the flag as given, or the key's flag when named by key) or for an unknown
// name. On error `cfg` is unchanged.
Status set_key(AgentConfig& cfg, std::string_view key_or_flag,
               std::string_view value);

// The current value of a key (key, flag or alias) as text, spelled like
// KeyInfo::default_text; empty for an unknown key.
std::string get_key(const AgentConfig& cfg, std::string_view key);

// Checks value ranges after all sources are merged (not the file system:
// whether log.file's folder exists is found out when it is opened).
// invalid_argument "api.threads: expected an integer from 1 to 256, got 0".
Status validate(const AgentConfig& cfg);

// One key whose value differs between two configs.
struct Change {
  std::string key;
  std::string old_value;
  std::string new_value;
  bool live;  // KeyInfo::live: SIGHUP applies it without a restart
};
// Keys whose values differ between a and b, in keys() order.
std::vector<Change> diff(const AgentConfig& a, const AgentConfig& b);

// The defaults of `nwagent --dev`: data_dir "./.nightwatch", api on
// 127.0.0.1:7070, everything else default.
AgentConfig dev_defaults();

// The text of examples/agent.toml: every key, commented with its description
// and type, set to its default; top-level keys, then [log] and [api].
std::string render_example();

}  // namespace nw::config
