#include "common/config/key_table.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "common/base/strings.h"

namespace nw::config::detail {
namespace {

constexpr int kMinThreads = 1;
constexpr int kMaxThreads = 256;
constexpr std::uint64_t kMinBodySize = 1024;
constexpr size_t kMaxNodeIdLength = 63;
constexpr int kMaxBootstrapExpect = 15;

Error bad(std::string message) {
  return Error(Code::invalid_argument, std::move(message),
               std::string(kDocsHint), "config");
}

Error expected(std::string_view what, std::string_view got_text) {
  return bad("expected " + std::string(what) + ", got " + quoted(got_text));
}

Result<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    return expected("integer", text);
  }
  return n;
}

bool node_id_char(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '-' || c == '_' || c == '.');
}

Status check_node_id(const AgentConfig& cfg) {
  const std::string& id = cfg.node_id;
  bool good = id.size() <= kMaxNodeIdLength;
  for (size_t i = 0; good && i < id.size(); ++i) {
    good = node_id_char(id[i], i == 0);
  }
  if (good) return ok_status();
  return expected(
      "up to 63 lowercase letters, digits, '-', '_' or '.', starting with a "
      "letter or digit",
      id);
}

Error bad_expect(std::string_view got) {
  return bad("expected an integer from 1 to 15, got " + std::string(got));
}

Error bad_threads(std::string_view got) {
  return bad("expected an integer from 1 to 256, got " + std::string(got));
}

Status check_positive(Duration d) {
  if (d > Duration::zero()) return ok_status();
  return bad("expected a duration greater than 0, got " + format_duration(d));
}

Status set_duration(Duration& field, std::string_view text) {
  NW_ASSIGN_OR_RETURN(field, parse_duration(text));
  return ok_status();
}

Status set_size(std::uint64_t& field, std::string_view text) {
  NW_ASSIGN_OR_RETURN(field, parse_size(text));
  return ok_status();
}

// A listen address: host:port with a non-empty host (port 0 allowed).
Status set_listen(HostPort& field, std::string_view text) {
  auto hp = parse_host_port(text);
  if (!hp.ok()) return Status(expected("host:port", text));
  field = std::move(hp).value();
  return ok_status();
}

Status check_listen(const HostPort& field) {
  if (!field.host.empty()) return ok_status();
  return Status(expected("host:port", field.to_string()));
}

// A base parser's error ("expected a duration such as ...") as this
// module's: same message, domain "config", and the docs hint.
Status as_config_error(Status s) {
  if (s.ok()) return s;
  Error e = std::move(s).error();
  return bad(std::move(e.message));
}

std::vector<KeyOps> make_table() {
  std::vector<KeyOps> t;
  t.push_back(KeyOps{
      {"node_id",
       "node-id",
       {},
       "string",
       "",
       "This node's name in the cluster, up to 63 lowercase letters, digits, "
       "'-', '_' or '.'; empty: generated on first start and kept in "
       "data_dir.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        c.node_id = std::string(v);
        return ok_status();
      },
      [](const AgentConfig& c) { return c.node_id; },
      check_node_id});
  t.push_back(KeyOps{
      {"data_dir",
       "data-dir",
       {},
       "path",
       "/var/lib/nightwatch",
       "Folder that holds this node's state: Raft logs, partition segments, "
       "the local database and the generated node id.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        c.data_dir = std::string(v);
        return ok_status();
      },
      [](const AgentConfig& c) { return c.data_dir; },
      [](const AgentConfig& c) {
        if (!c.data_dir.empty()) return ok_status();
        return Status(expected("a path", c.data_dir));
      }});
  t.push_back(KeyOps{
      {"log.level",
       "log-level",
       {},
       "trace|debug|info|warn|error",
       "info",
       "Lowest level of the log lines that are written.",
       true},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        auto level = log::parse_level(v);
        if (!level || *level == log::Level::off) {
          return Status(expected("trace|debug|info|warn|error", v));
        }
        c.log.level = *level;
        return ok_status();
      },
      [](const AgentConfig& c) { return std::string(to_string(c.log.level)); },
      [](const AgentConfig& c) {
        if (c.log.level != log::Level::off) return ok_status();
        return Status(expected("trace|debug|info|warn|error", "off"));
      }});
  t.push_back(KeyOps{
      {"log.format",
       "log-format",
       {},
       "text|json",
       "text",
       "Form of the log lines: text for people, json for one JSON object per "
       "line.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        auto format = log::parse_format(v);
        if (!format) return Status(expected("text|json", v));
        c.log.format = *format;
        return ok_status();
      },
      [](const AgentConfig& c) {
        return std::string(c.log.format == log::Format::json ? "json" : "text");
      },
      nullptr});
  t.push_back(
      KeyOps{{"log.file",
              "log-file",
              {},
              "path",
              "",
              "File the log lines are appended to; empty: standard error.",
              false},
             TomlKind::string,
             [](AgentConfig& c, std::string_view v) -> Status {
               c.log.file = std::string(v);
               return ok_status();
             },
             [](const AgentConfig& c) { return c.log.file; },
             nullptr});
  t.push_back(KeyOps{
      {"api.listen",
       "api-listen",
       {"api"},
       "host:port",
       "127.0.0.1:7070",
       "Address of the HTTP API that nwctl talks to; port 0 picks a free "
       "port.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return set_listen(c.api.listen, v);
      },
      [](const AgentConfig& c) { return c.api.listen.to_string(); },
      [](const AgentConfig& c) { return check_listen(c.api.listen); }});
  t.push_back(KeyOps{
      {"api.threads",
       "api-threads",
       {},
       "integer",
       "64",
       "Number of threads that serve API requests, from 1 to 256; a "
       "keep-alive connection holds one while it is open.",
       false},
      TomlKind::integer,
      [](AgentConfig& c, std::string_view v) -> Status {
        NW_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v));
        if (n < kMinThreads || n > kMaxThreads) {
          return bad_threads(v);
        }
        c.api.threads = static_cast<int>(n);
        return ok_status();
      },
      [](const AgentConfig& c) { return std::to_string(c.api.threads); },
      [](const AgentConfig& c) {
        if (c.api.threads >= kMinThreads && c.api.threads <= kMaxThreads) {
          return ok_status();
        }
        return Status(bad_threads(std::to_string(c.api.threads)));
      }});
  t.push_back(KeyOps{
      {"api.read_timeout",
       "api-read-timeout",
       {},
       "duration",
       "30s",
       "How long the API waits for a request to arrive before it closes the "
       "connection.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return as_config_error(set_duration(c.api.read_timeout, v));
      },
      [](const AgentConfig& c) { return format_duration(c.api.read_timeout); },
      [](const AgentConfig& c) { return check_positive(c.api.read_timeout); }});
  t.push_back(KeyOps{
      {"api.write_timeout",
       "api-write-timeout",
       {},
       "duration",
       "30s",
       "How long the API may take to send a response before it closes the "
       "connection.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return as_config_error(set_duration(c.api.write_timeout, v));
      },
      [](const AgentConfig& c) { return format_duration(c.api.write_timeout); },
      [](const AgentConfig& c) {
        return check_positive(c.api.write_timeout);
      }});
  t.push_back(KeyOps{
      {"api.max_body_size",
       "api-max-body-size",
       {},
       "size",
       "16MiB",
       "Largest request body the API accepts, at least 1KiB.",
       false},
      TomlKind::string_or_int,
      [](AgentConfig& c, std::string_view v) -> Status {
        return as_config_error(set_size(c.api.max_body_size, v));
      },
      [](const AgentConfig& c) { return format_size(c.api.max_body_size); },
      [](const AgentConfig& c) {
        if (c.api.max_body_size >= kMinBodySize) return ok_status();
        return Status(bad("expected a size of at least 1KiB, got " +
                          format_size(c.api.max_body_size)));
      }});
  t.push_back(KeyOps{
      {"peer.listen",
       "peer-listen",
       {"peer"},
       "host:port",
       "127.0.0.1:7071",
       "Address of the peer port that agents use among themselves (Raft); "
       "other agents dial it, so it must be reachable from them; port 0 "
       "picks a free port.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return set_listen(c.peer.listen, v);
      },
      [](const AgentConfig& c) { return c.peer.listen.to_string(); },
      [](const AgentConfig& c) { return check_listen(c.peer.listen); }});
  t.push_back(KeyOps{
      {"peer.advertise",
       "peer-advertise",
       {},
       "host:port",
       "",
       "Address other agents dial to reach this one, when it differs from "
       "peer.listen (NAT, a proxy, a listen address of 0.0.0.0); empty: "
       "peer.listen.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        if (v.empty()) {
          c.peer.advertise = HostPort{"", 0};
          return ok_status();
        }
        auto hp = parse_host_port(v);
        if (!hp.ok() || hp->port == 0) {
          return Status(expected("host:port with a port", v));
        }
        c.peer.advertise = std::move(hp).value();
        return ok_status();
      },
      [](const AgentConfig& c) {
        return c.peer.advertise.host.empty() ? std::string()
                                             : c.peer.advertise.to_string();
      },
      nullptr});
  t.push_back(KeyOps{
      {"cluster.bootstrap_expect",
       "cluster-bootstrap-expect",
       {"bootstrap-expect"},
       "integer",
       "1",
       "How many agents form a new cluster together: the first this-many "
       "that find each other through cluster.join; 1 with no join: a "
       "cluster of one. Ignored once the agent is a member.",
       false},
      TomlKind::integer,
      [](AgentConfig& c, std::string_view v) -> Status {
        NW_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v));
        if (n < 1 || n > kMaxBootstrapExpect) return bad_expect(v);
        c.cluster.bootstrap_expect = static_cast<int>(n);
        return ok_status();
      },
      [](const AgentConfig& c) {
        return std::to_string(c.cluster.bootstrap_expect);
      },
      [](const AgentConfig& c) {
        const int n = c.cluster.bootstrap_expect;
        if (n >= 1 && n <= kMaxBootstrapExpect) return ok_status();
        return Status(bad_expect(std::to_string(n)));
      }});
  t.push_back(KeyOps{
      {"cluster.join",
       "cluster-join",
       {"join"},
       "host:port list",
       "",
       "Peer addresses of other agents (comma-separated, or a TOML array), "
       "dialed until one answers: members of the cluster to join, or the "
       "other agents to bootstrap with. Ignored once the agent is a member.",
       false},
      TomlKind::string_list,
      [](AgentConfig& c, std::string_view v) -> Status {
        std::vector<HostPort> addrs;
        for (const std::string& item : split(v, ',')) {
          const std::string_view text = trim(item);
          if (text.empty()) continue;
          auto hp = parse_host_port(text);
          if (!hp.ok()) return Status(expected("host:port", text));
          addrs.push_back(std::move(hp).value());
        }
        c.cluster.join = std::move(addrs);
        return ok_status();
      },
      [](const AgentConfig& c) {
        std::vector<std::string> items;
        for (const HostPort& hp : c.cluster.join) {
          items.push_back(hp.to_string());
        }
        return join(items, ",");
      },
      nullptr});
  t.push_back(
      KeyOps{{"raft.tick_interval",
              "raft-tick-interval",
              {},
              "duration",
              "50ms",
              "Length of one Raft tick, the unit of the election and heartbeat "
              "timeouts.",
              false},
             TomlKind::string,
             [](AgentConfig& c, std::string_view v) -> Status {
               return as_config_error(set_duration(c.raft.tick_interval, v));
             },
             [](const AgentConfig& c) {
               return format_duration(c.raft.tick_interval);
             },
             [](const AgentConfig& c) {
               const Duration d = c.raft.tick_interval;
               if (d >= std::chrono::milliseconds(1) &&
                   d <= std::chrono::seconds(10)) {
                 return ok_status();
               }
               return Status(bad("expected a duration from 1ms to 10s, got " +
                                 format_duration(d)));
             }});
  t.push_back(KeyOps{
      {"raft.election_ticks",
       "raft-election-ticks",
       {},
       "integer",
       "8",
       "Ticks without a leader before a follower starts an election (the "
       "timeout is random between this and twice this); more than "
       "raft.heartbeat_ticks.",
       false},
      TomlKind::integer,
      [](AgentConfig& c, std::string_view v) -> Status {
        NW_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v));
        if (n < 2 || n > 1000) {
          return Status(
              bad("expected an integer from 2 to 1000, got " + std::string(v)));
        }
        c.raft.election_ticks = static_cast<int>(n);
        return ok_status();
      },
      [](const AgentConfig& c) {
        return std::to_string(c.raft.election_ticks);
      },
      [](const AgentConfig& c) {
        if (c.raft.election_ticks > c.raft.heartbeat_ticks) return ok_status();
        return Status(bad("raft.election_ticks (" +
                          std::to_string(c.raft.election_ticks) +
                          ") must be more than raft.heartbeat_ticks (" +
                          std::to_string(c.raft.heartbeat_ticks) + ")"));
      }});
  t.push_back(KeyOps{
      {"raft.heartbeat_ticks",
       "raft-heartbeat-ticks",
       {},
       "integer",
       "1",
       "Ticks between the leader's heartbeats; less than "
       "raft.election_ticks.",
       false},
      TomlKind::integer,
      [](AgentConfig& c, std::string_view v) -> Status {
        NW_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v));
        if (n < 1 || n > 999) {
          return Status(
              bad("expected an integer from 1 to 999, got " + std::string(v)));
        }
        c.raft.heartbeat_ticks = static_cast<int>(n);
        return ok_status();
      },
      [](const AgentConfig& c) {
        return std::to_string(c.raft.heartbeat_ticks);
      },
      nullptr});
  t.push_back(KeyOps{
      {"raft.snapshot_threshold",
       "raft-snapshot-threshold",
       {},
       "integer",
       "10000",
       "Entries applied since the last snapshot of the cluster state that "
       "make the agent take a new one and shorten its log.",
       false},
      TomlKind::integer,
      [](AgentConfig& c, std::string_view v) -> Status {
        NW_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v));
        if (n < 16 || n > (std::int64_t{1} << 40)) {
          return Status(bad("expected an integer from 16 to 2^40, got " +
                            std::string(v)));
        }
        c.raft.snapshot_threshold = n;
        return ok_status();
      },
      [](const AgentConfig& c) {
        return std::to_string(c.raft.snapshot_threshold);
      },
      nullptr});
  t.push_back(KeyOps{
      {"jobs.workers",
       "jobs-workers",
       {},
       "integer",
       "4",
       "Job runs this agent executes at once; runs dispatched beyond it "
       "wait, the highest priority first.",
       false},
      TomlKind::integer,
      [](AgentConfig& c, std::string_view v) -> Status {
        NW_ASSIGN_OR_RETURN(std::int64_t n, parse_integer(v));
        if (n < 1 || n > 1024) {
          return Status(
              bad("expected an integer from 1 to 1024, got " + std::string(v)));
        }
        c.jobs.workers = static_cast<int>(n);
        return ok_status();
      },
      [](const AgentConfig& c) { return std::to_string(c.jobs.workers); },
      nullptr});
  t.push_back(KeyOps{
      {"jobs.lease",
       "jobs-lease",
       {},
       "duration",
       "30s",
       "How long a job run may go unrenewed by its agent before the leader "
       "marks it lost and retries it elsewhere; renewed every third of it.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return as_config_error(set_duration(c.jobs.lease, v));
      },
      [](const AgentConfig& c) { return format_duration(c.jobs.lease); },
      [](const AgentConfig& c) {
        if (c.jobs.lease >= std::chrono::seconds(3) &&
            c.jobs.lease <= std::chrono::hours(1)) {
          return ok_status();
        }
        return Status(bad("expected a duration from 3s to 1h, got " +
                          format_duration(c.jobs.lease)));
      }});
  t.push_back(KeyOps{
      {"jobs.kill_grace",
       "jobs-kill-grace",
       {},
       "duration",
       "10s",
       "Time between SIGTERM and SIGKILL when a job run's process tree is "
       "stopped (timeout, nwctl job kill, concurrency = replace).",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return as_config_error(set_duration(c.jobs.kill_grace, v));
      },
      [](const AgentConfig& c) { return format_duration(c.jobs.kill_grace); },
      [](const AgentConfig& c) {
        if (c.jobs.kill_grace >= Duration::zero() &&
            c.jobs.kill_grace <= std::chrono::minutes(10)) {
          return ok_status();
        }
        return Status(bad("expected a duration from 0s to 10m, got " +
                          format_duration(c.jobs.kill_grace)));
      }});
  t.push_back(KeyOps{
      {"shutdown_timeout",
       "shutdown-timeout",
       {},
       "duration",
       "10s",
       "How long in-flight work may take to finish on SIGTERM before the "
       "agent exits anyway.",
       false},
      TomlKind::string,
      [](AgentConfig& c, std::string_view v) -> Status {
        return as_config_error(set_duration(c.shutdown_timeout, v));
      },
      [](const AgentConfig& c) { return format_duration(c.shutdown_timeout); },
      [](const AgentConfig& c) {
        if (c.shutdown_timeout >= Duration::zero()) return ok_status();
        return Status(bad("expected a duration, got " +
                          format_duration(c.shutdown_timeout)));
      }});
  return t;
}

}  // namespace

std::string quoted(std::string_view text) {
  std::string out = "\"";
  append_escaped(out, text);
  out += '"';
  return out;
}

const std::vector<KeyOps>& key_ops() {
  static const std::vector<KeyOps>* table =
      new std::vector<KeyOps>(make_table());
  return *table;
}

const KeyOps* find_ops(std::string_view key) {
  for (const KeyOps& op : key_ops()) {
    if (op.info.key == key) return &op;
  }
  return nullptr;
}

const std::vector<std::string>& table_names() {
  static const std::vector<std::string>* names = new std::vector<std::string>{
      "log", "api", "peer", "cluster", "raft", "jobs"};
  return *names;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest(std::string_view name,
                    const std::vector<std::string>& candidates) {
  constexpr size_t kMaxDistance = 2;
  size_t best = std::numeric_limits<size_t>::max();
  std::string found;
  bool tie = false;
  for (const std::string& c : candidates) {
    size_t d = edit_distance(name, c);
    if (d < best) {
      best = d;
      found = c;
      tie = false;
    } else if (d == best) {
      tie = true;
    }
  }
  if (best > kMaxDistance || tie) return {};
  return found;
}

}  // namespace nw::config::detail
