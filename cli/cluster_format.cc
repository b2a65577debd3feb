// The pure half of `nwctl cluster ...` (see cluster.h): argument checks,
// request bodies, decoding and rendering.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "cli/cluster.h"
#include "cli/context.h"
#include "common/api/json.h"
#include "common/base/net.h"
#include "common/base/strings.h"
#include "common/http/url.h"

namespace nw::ctl {
namespace {

constexpr std::string_view kDomain = "cli";
constexpr size_t kMaxLabelKey = 63;
constexpr size_t kMaxLabelValue = 255;

Error usage(std::string message, std::string hint) {
  return Error(Code::invalid_argument, std::move(message), std::move(hint),
               kDomain);
}

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, kDomain);
}

std::string single_quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// Reads an optional non-negative integer, telling absent from 0.
Status read_optional_u64(const nlohmann::json& j, std::string_view key,
                         const std::string& what,
                         std::optional<std::uint64_t>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ok_status();
  if (!it->is_number_unsigned()) {
    return invalid(what + ": field \"" + std::string(key) +
                   "\": expected a non-negative integer, got " +
                   it->type_name());
  }
  out = it->get<std::uint64_t>();
  return ok_status();
}

// Reads an optional signed integer, telling absent (or null) from 0.
Status read_optional_i64(const nlohmann::json& j, std::string_view key,
                         const std::string& what,
                         std::optional<std::int64_t>& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ok_status();
  if (!it->is_number_integer()) {
    return invalid(what + ": field \"" + std::string(key) +
                   "\": expected an integer, got " + it->type_name());
  }
  out = it->get<std::int64_t>();
  return ok_status();
}

Status read_labels(const nlohmann::json& j, const std::string& what,
                   std::map<std::string, std::string>& out) {
  auto it = j.find("labels");
  if (it == j.end() || it->is_null()) return ok_status();
  if (!it->is_object()) {
    return invalid(what + ": field \"labels\": expected an object, got " +
                   it->type_name());
  }
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) {
      return invalid(what + ": field \"labels\": value of \"" + k +
                     "\": expected a string, got " + v.type_name());
    }
    out[k] = v.get<std::string>();
  }
  return ok_status();
}

Result<ClusterMember> member_from_value(const nlohmann::json& j,
                                        const std::string& what) {
  if (!j.is_object()) {
    return invalid(what + ": expected an object, got " + j.type_name());
  }
  ClusterMember m;
  api::ObjectReader r(j, what);
  r.required("id", m.id);
  r.optional("raft_id", m.raft_id);
  r.required("api_addr", m.api_addr);
  r.required("peer_addr", m.peer_addr);
  r.required("role", m.role);
  r.required("state", m.state);
  r.optional("leader", m.leader);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(read_optional_u64(j, "match_index", what, m.match_index));
  NW_RETURN_IF_ERROR(read_optional_u64(j, "lag", what, m.lag));
  NW_RETURN_IF_ERROR(
      read_optional_i64(j, "clock_offset_ms", what, m.clock_offset_ms));
  NW_RETURN_IF_ERROR(
      read_optional_i64(j, "clock_rtt_ms", what, m.clock_rtt_ms));
  NW_RETURN_IF_ERROR(read_labels(j, what, m.labels));
  return m;
}

std::string labels_text(const std::map<std::string, std::string>& labels) {
  if (labels.empty()) return "-";
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(k + "=" + v);
  return join(parts, ",");
}

std::string optional_number(const std::optional<std::uint64_t>& v) {
  return v ? std::to_string(*v) : "-";
}

std::string or_none(const std::string& s, std::string_view none) {
  return s.empty() ? std::string(none) : s;
}

bool valid_label_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxLabelKey) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

Error bad_label_key(std::string_view key) {
  return usage("label: bad key " + single_quoted(key) +
                   ": use 1-63 characters from a-z 0-9 _ . -",
               "for example: nwctl cluster label NODE_ID rack=r1");
}

}  // namespace

Result<ClusterStatus> cluster_status_from_json(std::string_view body) {
  const std::string what = "cluster status";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  ClusterStatus s;
  api::ObjectReader r(j, what);
  r.required("cluster_id", s.cluster_id);
  r.required("node_id", s.node_id);
  r.optional("stale", s.stale);
  r.required("leader", s.leader);
  r.required("term", s.term);
  r.required("commit_index", s.commit_index);
  r.required("applied_index", s.applied_index);
  NW_RETURN_IF_ERROR(r.status());
  auto members = j.find("members");
  if (members == j.end() || members->is_null()) {
    return invalid(what + ": missing field \"members\"");
  }
  if (!members->is_array()) {
    return invalid(what + ": field \"members\": expected an array, got " +
                   members->type_name());
  }
  for (size_t i = 0; i < members->size(); ++i) {
    NW_ASSIGN_OR_RETURN(
        ClusterMember m,
        member_from_value((*members)[i],
                          what + ": members[" + std::to_string(i) + "]"));
    s.members.push_back(std::move(m));
  }
  return s;
}

Result<ClusterMember> cluster_member_from_json(std::string_view body) {
  const std::string what = "cluster member";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  return member_from_value(j, what);
}

std::string render_cluster_status(const ClusterStatus& s) {
  std::string answered = s.node_id;
  if (s.stale) answered += " (stale: this agent's own view)";
  std::string out = render_fields({
      {"CLUSTER", or_none(s.cluster_id, "(not formed)")},
      {"LEADER", or_none(s.leader, "(none)")},
      {"TERM", std::to_string(s.term)},
      {"COMMIT INDEX", std::to_string(s.commit_index)},
      {"APPLIED INDEX", std::to_string(s.applied_index)},
      {"ANSWERED BY", answered},
  });
  out += "\n";
  // The first column marks the leader; it is blank for the others.
  Table t({"", "ID", "API", "PEER", "ROLE", "STATE", "MATCH", "LAG", "CLOCK",
           "LABELS"});
  for (const ClusterMember& m : s.members) {
    bool is_leader = m.leader || (!s.leader.empty() && m.id == s.leader);
    t.add({is_leader ? "*" : "", m.id, m.api_addr, m.peer_addr, m.role, m.state,
           optional_number(m.match_index), optional_number(m.lag),
           clock_offset_text(m.clock_offset_ms), labels_text(m.labels)});
  }
  out += t.render();
  return out;
}

std::string clock_offset_text(const std::optional<std::int64_t>& offset_ms) {
  if (!offset_ms) return "-";
  if (*offset_ms > 0) return "+" + std::to_string(*offset_ms) + "ms";
  return std::to_string(*offset_ms) + "ms";
}

std::string render_cluster_member(const ClusterMember& m) {
  return render_fields({
      {"ID", m.id},
      {"API", m.api_addr},
      {"PEER", m.peer_addr},
      {"ROLE", m.role},
      {"STATE", m.state},
      {"LEADER", m.leader ? "yes" : "no"},
      {"LABELS", labels_text(m.labels)},
  });
}

Result<std::vector<std::string>> parse_join_addrs(
    const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& arg : args) {
    for (const std::string& piece : split(arg, ',')) {
      std::string a(trim(piece));
      if (a.empty()) continue;  // "a:1,,b:2" and a trailing comma
      if (!parse_host_port(a).ok()) {
        return usage("join: expected host:port, got " + single_quoted(a),
                     "give the PEER address of a member (its peer port, not "
                     "its API port), e.g. nwctl cluster join 10.0.0.5:7071");
      }
      if (std::find(out.begin(), out.end(), a) == out.end()) {
        out.push_back(std::move(a));
      }
    }
  }
  if (out.empty()) {
    return usage("join: no address given",
                 "give the PEER address of a member, e.g. nwctl cluster "
                 "join 10.0.0.5:7071");
  }
  return out;
}

std::string join_request_json(const std::vector<std::string>& addrs) {
  return api::to_body(nlohmann::json{{"addrs", addrs}});
}

Result<std::string> render_join(std::string_view body) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, "join"));
  std::string node, cluster, leader;
  api::ObjectReader r(j, "join");
  r.required("node_id", node);
  r.required("cluster_id", cluster);
  r.optional("leader", leader);
  NW_RETURN_IF_ERROR(r.status());
  return "joined cluster " + cluster + " as " + node + " (leader " +
         or_none(leader, "unknown") + ")\n";
}

Status check_node_id(std::string_view command, std::string_view node_id) {
  if (trim(node_id).empty()) {
    return usage(std::string(command) + ": NODE_ID is empty",
                 "give a member's id as nwctl cluster status shows it");
  }
  return ok_status();
}

std::string remove_request_json(std::string_view node_id, bool force) {
  return api::to_body(
      nlohmann::json{{"node_id", std::string(node_id)}, {"force", force}});
}

Result<std::string> render_remove(std::string_view body) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, "remove"));
  std::string removed;
  std::int64_t members = 0;
  api::ObjectReader r(j, "remove");
  r.required("removed", removed);
  r.required("members", members);
  NW_RETURN_IF_ERROR(r.status());
  return "removed " + removed + " (" + std::to_string(members) +
         (members == 1 ? " member" : " members") + " left)\n";
}

std::string transfer_request_json(std::string_view node_id) {
  return api::to_body(nlohmann::json{{"node_id", std::string(node_id)}});
}

Result<std::string> render_transfer(std::string_view body) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j,
                      api::parse_object(body, "transfer-leader"));
  std::string previous, leader;
  api::ObjectReader r(j, "transfer-leader");
  r.optional("previous", previous);
  r.required("leader", leader);
  NW_RETURN_IF_ERROR(r.status());
  return "leader: " + or_none(previous, "(none)") + " -> " + leader + "\n";
}

Result<LabelChange> parse_label_args(const std::vector<std::string>& pairs,
                                     const std::vector<std::string>& remove) {
  LabelChange c;
  for (const std::string& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos) {
      return usage("label: expected KEY=VALUE, got " + single_quoted(p),
                   "write " + p + "=VALUE to set it, or --remove " + p +
                       " to delete it");
    }
    std::string key = p.substr(0, eq);
    std::string value = p.substr(eq + 1);
    if (!valid_label_key(key)) return bad_label_key(key);
    if (value.size() > kMaxLabelValue) {
      return usage("label: value of " + single_quoted(key) + " is " +
                       std::to_string(value.size()) +
                       " bytes; the limit is 255",
                   "shorten the value");
    }
    if (c.set.count(key) != 0) {
      return usage("label: " + single_quoted(key) + " is given twice",
                   "give each KEY=VALUE once");
    }
    c.set[key] = value;
  }
  for (const std::string& key : remove) {
    if (key.find('=') != std::string::npos) {
      return usage("label: --remove takes a KEY, got " + single_quoted(key),
                   "write --remove " + key.substr(0, key.find('=')));
    }
    if (!valid_label_key(key)) return bad_label_key(key);
    if (c.set.count(key) != 0) {
      return usage("label: " + single_quoted(key) + " is both set and removed",
                   "give either " + key + "=VALUE or --remove " + key);
    }
    if (std::find(c.remove.begin(), c.remove.end(), key) == c.remove.end()) {
      c.remove.push_back(key);
    }
  }
  if (c.set.empty() && c.remove.empty()) {
    return usage("label: nothing to change",
                 "give KEY=VALUE pairs and/or --remove KEY, e.g. nwctl "
                 "cluster label nw-1a2b3c4d rack=r1 --remove zone");
  }
  return c;
}

std::string label_request_json(const LabelChange& change) {
  nlohmann::json set = nlohmann::json::object();
  for (const auto& [k, v] : change.set) set[k] = v;
  nlohmann::json remove = nlohmann::json::array();
  for (const auto& k : change.remove) remove.push_back(k);
  return api::to_body(nlohmann::json{{"set", set}, {"remove", remove}});
}

std::string label_path(std::string_view node_id) {
  return "/v1/cluster/nodes/" + http::percent_encode(node_id) + "/labels";
}

Result<std::string> pretty_json(std::string_view body, std::string_view what) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  return api::to_body(j, 2);
}

}  // namespace nw::ctl
