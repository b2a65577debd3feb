#pragma once

// A cluster of real agents for the integration tests (cluster_test,
// topic_test): n agents formed with --bootstrap-expect, and the nwctl
// calls the tests share. Header-only; each test binary includes it once.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "tests/support/agent_process.h"
#include "tests/support/check.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::testsupport {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kFormTimeout = 30s;

inline json parse(const std::string& text) {
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// `nwctl cluster label NODE key=value` through `via`: one replicated
// controller write.
inline ProcessResult write_label(const AgentProcess& via,
                                 const std::string& node,
                                 const std::string& key,
                                 const std::string& value,
                                 const std::string& timeout = "8s") {
  return run_nwctl({"--addr", via.addr(), "--timeout", timeout, "cluster",
                    "label", node, key + "=" + value});
}

// The value of label `key` of member `node` in a cluster status; "" when
// it has none.
inline std::string labels_of(const json& status, const std::string& node,
                             const std::string& key) {
  if (status.is_discarded()) return {};
  for (const json& m : status["members"]) {
    if (m["id"] == node && m["labels"].contains(key)) {
      return m["labels"][key].get<std::string>();
    }
  }
  return {};
}

// `nwctl --addr A -o json cluster status [--stale]`; a discarded json when
// the command failed.
inline json cluster_status(const AgentProcess& a, bool stale) {
  std::vector<std::string> args{"--addr", a.addr(), "--timeout", "5s",
                                "-o",     "json",   "cluster",   "status"};
  if (stale) args.push_back("--stale");
  ProcessResult r = run_nwctl(args);
  if (r.exit_code != 0) return json(json::value_t::discarded);
  return parse(r.out);
}

// A cluster of `n` agents named n1..nN formed with --bootstrap-expect n.
struct TestCluster {
  TempDir dir{"cluster"};
  std::vector<AgentProcess> agents;

  // `extra` goes to every agent's command line (e.g. {"--jobs-lease",
  // "3s"}); `env` sets environment variables of the named agents (e.g.
  // {{"n3", {{"FAKETIME", "+5s"}}}}).
  explicit TestCluster(int n, std::vector<std::string> extra = {},
                       const std::map<std::string, EnvOverrides>& env = {}) {
    for (int i = 1; i <= n; ++i) {
      AgentOptions o;
      o.name = "n" + std::to_string(i);
      agents.emplace_back(dir, o);
    }
    for (int i = 0; i < n; ++i) {
      std::string join;
      for (int j = 0; j < n; ++j) {
        if (j == i) continue;
        if (!join.empty()) join += ",";
        join += agents[j].peer_addr();
      }
      AgentOptions o;
      o.name = "n" + std::to_string(i + 1);
      o.port = agents[i].port();
      o.peer_port = agents[i].peer_port();
      o.extra_args = {"--node-id",       o.name,   "--bootstrap-expect",
                      std::to_string(n), "--join", join};
      o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
      if (auto e = env.find(o.name); e != env.end()) o.env = e->second;
      agents[i] = AgentProcess(dir, o);
    }
    for (AgentProcess& a : agents) NW_REQUIRE_OK(a.launch());
    for (AgentProcess& a : agents) NW_REQUIRE_OK(a.wait_ready(kFormTimeout));
    // Every member has registered its addresses (labels need the record).
    std::string last;
    const bool formed = wait_until(
        [&] {
          json s = cluster_status(agents[0], false);
          last = s.is_discarded() ? "(no answer)" : s.dump();
          if (s.is_discarded() || s["members"].size() != agents.size()) {
            return false;
          }
          for (const json& m : s["members"]) {
            if (m["api_addr"].get<std::string>().empty()) return false;
          }
          return true;
        },
        kFormTimeout, "every member registered");
    if (!formed) {
      // What each agent saw, for a failure that only shows under load.
      std::string why = "last status: " + last + "\n";
      for (AgentProcess& a : agents) {
        why += "--- " + a.data_dir().filename().string() +
               " (stale view: " + cluster_status(a, true).dump() + ")\n" +
               a.log_tail(30);
      }
      FAIL("the cluster did not form\n" << why);
    }
  }

  AgentProcess& by_id(const std::string& id) {
    for (AgentProcess& a : agents) {
      if (a.data_dir().filename() == id) return a;
    }
    FAIL("no agent " << id);
    return agents.front();
  }

  // The leader every running agent agrees on (stale views), within the
  // timeout; "" if they never agreed.
  std::string agreed_leader(Duration timeout = 20s) {
    std::string leader;
    wait_until(
        [&] {
          std::set<std::string> seen;
          for (AgentProcess& a : agents) {
            if (!a.running()) continue;
            json s = cluster_status(a, true);
            if (s.is_discarded()) return false;
            seen.insert(s["leader"].get<std::string>());
          }
          if (seen.size() != 1 || seen.begin()->empty()) return false;
          leader = *seen.begin();
          return true;
        },
        timeout, "the agents agree on a leader");
    return leader;
  }

  // A new agent (data dir and log named `name`) with node id `node_id`
  // that joins through agent 0; not started.
  AgentProcess joiner(const std::string& name, const std::string& node_id) {
    AgentOptions o;
    o.name = name;
    o.extra_args = {"--node-id", node_id, "--join", agents[0].peer_addr()};
    return AgentProcess(dir, o);
  }

  // The running agents other than `leader`.
  std::vector<AgentProcess*> followers_of(const std::string& leader) {
    std::vector<AgentProcess*> out;
    for (AgentProcess& a : agents) {
      if (a.data_dir().filename() != leader && a.running()) out.push_back(&a);
    }
    return out;
  }
};

}  // namespace nw::testsupport
