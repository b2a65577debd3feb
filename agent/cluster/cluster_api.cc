// The /v1/cluster/... routes (docs/api.md, "Cluster").
#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/cluster/cluster.h"
#include "common/api/json.h"
#include "common/http/client.h"
#include "common/http/forward.h"
#include "common/http/server.h"

namespace nw::cluster {
namespace {

constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr auto kJoinTimeout = std::chrono::seconds(30);
constexpr std::size_t kMaxLabelKey = 63;
constexpr std::size_t kMaxLabelValue = 255;

nlohmann::json member_json(const MemberView& m, bool progress) {
  nlohmann::json j = {{"id", m.id},
                      {"raft_id", m.raft_id},
                      {"api_addr", m.api_addr},
                      {"peer_addr", m.peer_addr},
                      {"role", m.role},
                      {"state", m.state},
                      {"leader", m.leader},
                      {"labels", m.labels}};
  if (progress) {
    j["match_index"] = m.match_index;
    j["lag"] = m.lag;
    j["clock_offset_ms"] = m.clock_offset_ms
                               ? nlohmann::json(*m.clock_offset_ms)
                               : nlohmann::json(nullptr);
    j["clock_rtt_ms"] = m.clock_rtt_ms ? nlohmann::json(*m.clock_rtt_ms)
                                       : nlohmann::json(nullptr);
  }
  return j;
}

nlohmann::json view_json(const ClusterView& v) {
  nlohmann::json members = nlohmann::json::array();
  for (const MemberView& m : v.members) members.push_back(member_json(m, true));
  return {{"cluster_id", v.cluster_id},
          {"node_id", v.node_id},
          {"stale", v.stale},
          {"leader", v.leader},
          {"term", v.term},
          {"commit_index", v.commit_index},
          {"applied_index", v.applied_index},
          {"members", members}};
}

http::Response ok_json(const nlohmann::json& j) {
  return http::Response::json(api::to_body(j));
}

Error bad(std::string message, std::string hint = {}) {
  return Error(Code::invalid_argument, std::move(message), std::move(hint),
               "cluster");
}

bool valid_label_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxLabelKey) return false;
  for (char c : k) {
    const bool good = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == '-';
    if (!good) return false;
  }
  return true;
}

}  // namespace

http::Response Cluster::forward_to_leader(const http::Request& r) const {
  if (http::forwarded(r)) {
    return http::Response::error(Error(
        Code::unavailable, "the leader changed while the request was forwarded",
        "retry", "cluster"));
  }
  const std::string leader = leader_id();
  if (leader.empty()) {
    return http::Response::error(Error(
        Code::unavailable, "no leader is known",
        "retry in a moment; `nwctl cluster status --stale` shows what this "
        "agent knows",
        "cluster"));
  }
  const std::string api = api_of(leader);
  if (api.empty()) {
    return http::Response::error(Error(
        Code::unavailable, "the leader " + leader + " has no known API address",
        "retry in a moment", "cluster"));
  }
  return http::forward(r, api, std::chrono::seconds(35));
}

std::optional<http::Response> Cluster::forward_unless_leader(
    const http::Request& r) const {
  if (!started_) {
    return http::Response::error(Error(Code::unavailable,
                                       "the agent is starting",
                                       "retry in a moment", "cluster"));
  }
  if (is_leader()) return std::nullopt;
  return forward_to_leader(r);
}

void Cluster::add_routes(http::Server& server) {
  // The API is served before the cluster service starts.
  auto route = [this, &server](std::string method, std::string pattern,
                               std::string label, http::Handler h) {
    server.route(std::move(method), std::move(pattern), std::move(label),
                 [this, h = std::move(h)](const http::Request& r) {
                   if (!started_) {
                     return http::Response::error(
                         Error(Code::unavailable, "the agent is starting",
                               "retry in a moment", "cluster"));
                   }
                   return h(r);
                 });
  };
  route("GET", "/v1/cluster/status", "/v1/cluster/status",
        [this](const http::Request& r) {
          const std::string stale = r.param("stale");
          if (stale == "true" || stale == "1")
            return ok_json(view_json(view(true)));
          raft_host::RaftHost* h = host();
          if (h == nullptr || h->status().leader != self_raft()) {
            return forward_to_leader(r);
          }
          if (Status s = read_barrier(std::chrono::seconds(5)); !s.ok()) {
            return http::Response::error(s.error());
          }
          return ok_json(view_json(view(false)));
        });
  route("POST", "/v1/cluster/join", "/v1/cluster/join",
        [this](const http::Request& r) {
          Result<nlohmann::json> body =
              api::parse_object(r.body, "join request");
          if (!body.ok()) return http::Response::error(body.error());
          std::vector<HostPort> addrs;
          const nlohmann::json& a = (*body)["addrs"];
          if (!a.is_array()) {
            return http::Response::error(
                bad("join: \"addrs\" must be a list of peer addresses",
                    "e.g. {\"addrs\": [\"10.0.0.1:7071\"]}"));
          }
          for (const nlohmann::json& item : a) {
            Result<HostPort> hp = item.is_string()
                                      ? parse_host_port(item.get<std::string>())
                                      : Result<HostPort>(bad("not a string"));
            if (!hp.ok()) {
              return http::Response::error(
                  bad("join: bad peer address " + item.dump(),
                      "write HOST:PORT of a member's --peer"));
            }
            addrs.push_back(*hp);
          }
          Result<ClusterView> v = join(std::move(addrs), kJoinTimeout);
          if (!v.ok()) return http::Response::error(v.error());
          return ok_json({{"node_id", v->node_id},
                          {"cluster_id", v->cluster_id},
                          {"leader", v->leader}});
        });
  route("POST", "/v1/cluster/remove", "/v1/cluster/remove",
        [this](const http::Request& r) {
          Result<nlohmann::json> body =
              api::parse_object(r.body, "remove request");
          if (!body.ok()) return http::Response::error(body.error());
          const nlohmann::json& id = (*body)["node_id"];
          if (!id.is_string() || id.get<std::string>().empty()) {
            return http::Response::error(
                bad("remove: \"node_id\" must name a member",
                    "list them with `nwctl cluster status`"));
          }
          const bool force = body->contains("force") &&
                             (*body)["force"].is_boolean() &&
                             (*body)["force"].get<bool>();
          if (leader_id() != options_.node_id) return forward_to_leader(r);
          if (id.get<std::string>() == options_.node_id) {
            // The leader leaves: hand over first, the new leader removes it.
            Result<std::string> next = transfer_leader("", kWriteTimeout);
            if (!next.ok()) return http::Response::error(next.error());
            http::Request again = r;
            std::erase_if(again.params, [](const auto& kv) {
              return kv.first == "forwarded";
            });
            return forward_to_leader(again);
          }
          Status s = remove(id.get<std::string>(), force, kWriteTimeout);
          if (!s.ok()) return http::Response::error(s.error());
          std::size_t members = view(true).members.size();
          return ok_json(
              {{"removed", id.get<std::string>()}, {"members", members}});
        });
  route("POST", "/v1/cluster/transfer-leader", "/v1/cluster/transfer-leader",
        [this](const http::Request& r) {
          Result<nlohmann::json> body =
              r.body.empty() ? Result<nlohmann::json>(nlohmann::json::object())
                             : api::parse_object(r.body, "transfer request");
          if (!body.ok()) return http::Response::error(body.error());
          std::string target;
          if (body->contains("node_id") && (*body)["node_id"].is_string()) {
            target = (*body)["node_id"].get<std::string>();
          }
          const std::string previous = leader_id();
          if (previous != options_.node_id) return forward_to_leader(r);
          Result<std::string> now = transfer_leader(target, kWriteTimeout);
          if (!now.ok()) return http::Response::error(now.error());
          return ok_json({{"previous", previous}, {"leader", *now}});
        });
  route("PUT", R"(/v1/cluster/nodes/([^/]+)/labels)",
        "/v1/cluster/nodes/{id}/labels", [this](const http::Request& r) {
          const std::string id = r.matches.at(1);
          Result<nlohmann::json> body = api::parse_object(r.body, "labels");
          if (!body.ok()) return http::Response::error(body.error());
          std::map<std::string, std::string> set;
          std::vector<std::string> drop;
          if (body->contains("set")) {
            const nlohmann::json& s = (*body)["set"];
            if (!s.is_object()) {
              return http::Response::error(
                  bad("labels: \"set\" must be an object of strings"));
            }
            for (const auto& [k, v] : s.items()) {
              if (!valid_label_key(k)) {
                return http::Response::error(
                    bad("labels: bad key \"" + k + "\"",
                        "keys are 1-63 of a-z 0-9 _ . -"));
              }
              if (!v.is_string() ||
                  v.get<std::string>().size() > kMaxLabelValue) {
                return http::Response::error(
                    bad("labels: the value of " + k +
                        " must be a string of up to " +
                        std::to_string(kMaxLabelValue) + " bytes"));
              }
              set[k] = v.get<std::string>();
            }
          }
          if (body->contains("remove")) {
            const nlohmann::json& d = (*body)["remove"];
            if (!d.is_array()) {
              return http::Response::error(
                  bad("labels: \"remove\" must be a list of keys"));
            }
            for (const nlohmann::json& k : d) {
              if (!k.is_string()) {
                return http::Response::error(bad("labels: keys are strings"));
              }
              drop.push_back(k.get<std::string>());
            }
          }
          std::sort(drop.begin(), drop.end());
          drop.erase(std::unique(drop.begin(), drop.end()), drop.end());
          controller::SetLabels cmd{id, std::move(set), std::move(drop)};
          if (Status s = propose(cmd, kWriteTimeout); !s.ok()) {
            return http::Response::error(s.error());
          }
          // This agent may not have applied the write yet (a follower, or
          // a leader elected while the write was in flight): the second
          // look waits for a linearizable read point first.
          for (int attempt = 0; attempt < 2; ++attempt) {
            if (attempt == 1 || leader_id() != options_.node_id) {
              if (Status s = read_barrier(std::chrono::seconds(5)); !s.ok()) {
                return http::Response::error(s.error());
              }
            }
            for (const MemberView& m : view(true).members) {
              if (m.id == id) return ok_json(member_json(m, false));
            }
          }
          return http::Response::error(
              Error(Code::not_found, "node " + id + " was removed meanwhile"));
        });
}

}  // namespace nw::cluster
