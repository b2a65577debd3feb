// The /v1/topics/... routes (docs/api.md, "Topics").
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/cluster/cluster.h"
#include "agent/controller/cluster_state.h"
#include "agent/controller/command.h"
#include "agent/controller/placement.h"
#include "agent/partition/partition_manager.h"
#include "common/api/json.h"
#include "common/base/strings.h"
#include "common/base/time.h"
#include "common/http/client.h"
#include "common/http/endpoint.h"
#include "common/http/forward.h"
#include "common/http/server.h"
#include "common/http/url.h"

namespace nw::partition {
namespace {

constexpr auto kWriteTimeout = std::chrono::seconds(10);
constexpr auto kProduceTimeout = std::chrono::seconds(30);
constexpr auto kForwardTimeout = std::chrono::seconds(40);
constexpr auto kPeekTimeout = std::chrono::seconds(2);
// How long a topic create waits for Raft members to register themselves.
constexpr auto kRegisterWait = std::chrono::seconds(5);
constexpr std::int64_t kDefaultRetentionMs = 7LL * 24 * 3600 * 1000;
constexpr std::uint64_t kDefaultSegmentBytes = 128ULL << 20;
constexpr std::uint64_t kMinSegmentBytes = 1ULL << 20;
constexpr std::uint64_t kDefaultFetchBytes = 1ULL << 20;
constexpr std::uint64_t kMaxFetchBytes = 64ULL << 20;
constexpr std::int64_t kMaxWaitMs = 30000;
constexpr int kMaxPartitions = 1024;
constexpr int kMaxReplicas = 7;
constexpr const char* kBatchType = "application/vnd.nightwatch.batch";

http::Response ok_json(const nlohmann::json& j, int status = 200) {
  return http::Response::json(api::to_body(j), status);
}

http::Response err(Code code, std::string message, std::string hint = {}) {
  return http::Response::error(
      Error(code, std::move(message), std::move(hint), "topic"));
}

http::Response bad(std::string message, std::string hint = {}) {
  return err(Code::invalid_argument, std::move(message), std::move(hint));
}

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 200) return false;
  for (char c : n) {
    const bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-';
    if (!good) return false;
  }
  return true;
}

std::optional<std::int64_t> to_i64(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// An integer field of a JSON body: absent -> `def`; present but not an
// integer -> nullopt.
std::optional<std::int64_t> int_field(const nlohmann::json& j, const char* name,
                                      std::int64_t def) {
  if (!j.contains(name)) return def;
  const nlohmann::json& v = j[name];
  if (!v.is_number_integer()) return std::nullopt;
  return v.get<std::int64_t>();
}

// The segment keys of a topic create or alter body, checked: `def` when
// absent.
Result<std::int64_t> segment_bytes_field(const nlohmann::json& j,
                                         std::int64_t def) {
  auto v = int_field(j, "segment_bytes", def);
  if (!v || *v < static_cast<std::int64_t>(kMinSegmentBytes)) {
    return Error(Code::invalid_argument,
                 "segment_bytes: expected at least 1048576 (1 MiB)", {},
                 "topic");
  }
  return *v;
}

Result<std::int64_t> segment_ms_field(const nlohmann::json& j) {
  auto v = int_field(j, "segment_ms", 0);
  if (!v || *v < 0) {
    return Error(Code::invalid_argument,
                 "segment_ms: expected a positive number of ms, or 0 for the "
                 "default (min(7 days, retention_ms))",
                 {}, "topic");
  }
  return *v;
}

nlohmann::json topic_json(const controller::TopicRecord& t) {
  return {
      {"name", t.name},
      {"id", t.id},
      {"partitions", t.partitions.size()},
      {"replicas", t.partitions.empty() ? 0 : t.partitions[0].replicas.size()},
      {"retention_ms", t.retention_ms},
      {"retention_bytes", t.retention_bytes},
      {"segment_bytes", t.segment_bytes},
      // The age at which segments roll (the default resolved), and
      // whether it is the default, min(7 days, retention_ms).
      {"segment_ms", controller::effective_segment_ms(t)},
      {"segment_ms_default", t.segment_ms == 0}};
}

nlohmann::json view_json(const PartitionView& v) {
  return {{"partition", v.partition},
          {"leader", v.leader},
          {"replicas", v.replicas},
          {"target_replicas", v.target_replicas},
          {"in_sync", v.in_sync},
          {"high_watermark", v.high_watermark},
          {"start_offset", v.start_offset},
          {"size_bytes", v.size_bytes},
          {"status", v.status},
          {"error", v.error}};
}

PartitionView view_from_json(const nlohmann::json& j) {
  PartitionView v;
  v.partition = j.value("partition", 0);
  v.leader = j.value("leader", "");
  v.is_leader = j.value("is_leader", false);
  v.in_sync = j.value("in_sync", std::vector<std::string>{});
  v.high_watermark = j.value("high_watermark", std::uint64_t{0});
  v.start_offset = j.value("start_offset", std::uint64_t{0});
  v.size_bytes = j.value("size_bytes", std::uint64_t{0});
  v.status = j.value("status", "");
  v.error = j.value("error", "");
  return v;
}

Result<Acks> parse_acks(std::string_view s) {
  if (s.empty() || s == "all") return Acks::all;
  if (s == "leader") return Acks::leader;
  if (s == "none") return Acks::none;
  return Error(Code::invalid_argument,
               "acks=" + std::string(s) + ": expected all, leader or none", {},
               "topic");
}

}  // namespace

void PartitionManager::add_routes(http::Server& server) {
  auto route = [this, &server](std::string method, std::string pattern,
                               std::string label,
                               http::Response (PartitionManager::*h)(
                                   const http::Request&)) {
    server.route(std::move(method), std::move(pattern), std::move(label),
                 [this, h](const http::Request& r) { return (this->*h)(r); });
  };
  route("POST", "/v1/topics", "/v1/topics", &PartitionManager::create_topic);
  route("GET", "/v1/topics", "/v1/topics", &PartitionManager::list_topics);
  route("GET", "/v1/topics/([^/]+)", "/v1/topics/{name}",
        &PartitionManager::describe_topic);
  route("PATCH", "/v1/topics/([^/]+)", "/v1/topics/{name}",
        &PartitionManager::alter_topic);
  route("DELETE", "/v1/topics/([^/]+)", "/v1/topics/{name}",
        &PartitionManager::delete_topic);
  route("POST", "/v1/topics/([^/]+)/reassign", "/v1/topics/{name}/reassign",
        &PartitionManager::reassign);
  route("GET", "/v1/topics/([^/]+)/local", "/v1/topics/{name}/local",
        &PartitionManager::local_state);
  route("GET", "/v1/topics/([^/]+)/offsets", "/v1/topics/{name}/offsets",
        &PartitionManager::list_offsets);
  route("POST", "/v1/topics/([^/]+)/partitions/([0-9]+)/records",
        "/v1/topics/{name}/partitions/{p}/records", &PartitionManager::produce);
  route("GET", "/v1/topics/([^/]+)/partitions/([0-9]+)/records",
        "/v1/topics/{name}/partitions/{p}/records", &PartitionManager::fetch);
  route("GET", "/v1/topics/([^/]+)/partitions/([0-9]+)/offsets",
        "/v1/topics/{name}/partitions/{p}/offsets",
        &PartitionManager::partition_offsets);
  add_group_api(server);
}

// The topic named in the request. Linearizable (the default: a topic
// created or deleted a moment ago through another agent is seen as such)
// costs a ReadIndex round; the produce and fetch paths read the local state
// first and pay it only when the topic is not there (a stale record of a
// deleted topic finds no replica to write to).
Result<controller::TopicRecord> PartitionManager::find_topic(
    const std::string& name, TopicRead how) {
  std::optional<controller::TopicRecord> t;
  auto look = [&] {
    cluster_.read([&](const controller::ClusterState& state) {
      if (const controller::TopicRecord* rec = state.topic(name)) t = *rec;
    });
  };
  if (how == TopicRead::linearizable) {
    NW_RETURN_IF_ERROR(cluster_.read_barrier(kWriteTimeout));
  }
  look();
  if (!t && how == TopicRead::local_first) {
    NW_RETURN_IF_ERROR(cluster_.read_barrier(kWriteTimeout));
    look();
  }
  if (!t) {
    return Error(Code::not_found, "topic \"" + name + "\": not found",
                 "list topics with: nwctl topic list", "topic");
  }
  return *t;
}

http::Response PartitionManager::create_topic(const http::Request& r) {
  if (auto fwd = cluster_.forward_unless_leader(r)) return std::move(*fwd);
  Result<nlohmann::json> body = api::parse_object(r.body, "topic");
  if (!body.ok()) return http::Response::error(body.error());
  const nlohmann::json& j = *body;
  if (!j.contains("name") || !j["name"].is_string() ||
      !valid_name(j["name"].get<std::string>())) {
    return bad("topic name: 1 to 200 characters of A-Z a-z 0-9 . _ -");
  }
  const std::string name = j["name"].get<std::string>();
  auto partitions = int_field(j, "partitions", 0);
  auto replicas = int_field(j, "replicas", 0);
  auto retention_ms = int_field(j, "retention_ms", kDefaultRetentionMs);
  auto retention_bytes = int_field(j, "retention_bytes", -1);
  Result<std::int64_t> segment_bytes =
      segment_bytes_field(j, static_cast<std::int64_t>(kDefaultSegmentBytes));
  Result<std::int64_t> segment_ms = segment_ms_field(j);
  if (!partitions || *partitions < 1 || *partitions > kMaxPartitions) {
    return bad("partitions: expected 1 to 1024", "pass --partitions N");
  }
  if (!replicas || *replicas < 1 || *replicas > kMaxReplicas) {
    return bad("replicas: expected 1 to 7", "pass --replicas N");
  }
  if (!retention_ms || (*retention_ms != -1 && *retention_ms < 1)) {
    return bad("retention_ms: expected a positive number of ms, or -1");
  }
  if (!retention_bytes || (*retention_bytes != -1 && *retention_bytes < 1)) {
    return bad("retention_bytes: expected a positive number of bytes, or -1");
  }
  if (!segment_bytes.ok()) return http::Response::error(segment_bytes.error());
  if (!segment_ms.ok()) return http::Response::error(segment_ms.error());
  Result<std::vector<std::vector<std::string>>> placement =
      Error(Code::internal, "placement not computed", {}, "topic");
  bool exists = false;
  // Placed on every agent the cluster has committed, also right after an
  // election, when the new leader may not have applied it all yet. An
  // agent that is a Raft member already registers itself (its addresses,
  // labels) a moment later: right after the cluster forms, wait for the
  // members to be registered rather than refuse for want of agents.
  if (Status b = cluster_.read_barrier(kWriteTimeout); !b.ok()) {
    return http::Response::error(b.error());
  }
  const auto deadline = std::chrono::steady_clock::now() + kRegisterWait;
  for (;;) {
    std::uint64_t version = 0;
    cluster_.read([&](const controller::ClusterState& state) {
      version = state.version();
      exists = state.topic(name) != nullptr;
      placement = controller::place_partitions(state.nodes(), state.topics(), 0,
                                               static_cast<int>(*partitions),
                                               static_cast<int>(*replicas));
    });
    const auto now = std::chrono::steady_clock::now();
    if (exists || placement.ok() ||
        placement.error().code != Code::failed_precondition ||
        now >= deadline ||
        cluster_.view(true).members.size() <
            static_cast<std::size_t>(*replicas)) {
      break;
    }
    cluster_.wait_for_change(
        version, std::chrono::duration_cast<Duration>(deadline - now));
  }
  if (exists) {
    return err(Code::conflict, "topic \"" + name + "\" already exists",
               "describe it with: nwctl topic describe " + name);
  }
  if (!placement.ok()) return http::Response::error(placement.error());
  controller::CreateTopic cmd;
  cmd.name = name;
  cmd.partitions = std::move(placement).value();
  cmd.retention_ms = *retention_ms;
  cmd.retention_bytes = *retention_bytes;
  cmd.segment_bytes = static_cast<std::uint64_t>(*segment_bytes);
  cmd.segment_ms = *segment_ms;
  if (Status s = cluster_.propose(cmd, kWriteTimeout); !s.ok()) {
    return http::Response::error(s.error());
  }
  Result<controller::TopicRecord> t = find_topic(name);
  if (!t.ok()) return http::Response::error(t.error());
  nlohmann::json out = topic_json(*t);
  nlohmann::json states = nlohmann::json::array();
  for (std::size_t p = 0; p < t->partitions.size(); ++p) {
    PartitionView v;
    v.partition = static_cast<int>(p);
    v.replicas = t->partitions[p].replicas;
    v.status = "no_leader";
    states.push_back(view_json(v));
  }
  out["partition_states"] = states;
  return ok_json(out, 201);
}

http::Response PartitionManager::list_topics(const http::Request&) {
  if (Status s = cluster_.read_barrier(kWriteTimeout); !s.ok()) {
    return http::Response::error(s.error());
  }
  nlohmann::json topics = nlohmann::json::array();
  cluster_.read([&](const controller::ClusterState& state) {
    for (const auto& [name, t] : state.topics())
      topics.push_back(topic_json(t));
  });
  return ok_json({{"topics", topics}});
}

http::Response PartitionManager::describe_topic(const http::Request& r) {
  Result<controller::TopicRecord> t = find_topic(r.matches[1]);
  if (!t.ok()) return http::Response::error(t.error());
  nlohmann::json out = topic_json(*t);
  nlohmann::json states = nlohmann::json::array();
  for (const PartitionView& v : gather_views(*t))
    states.push_back(view_json(v));
  out["partition_states"] = states;
  return ok_json(out);
}

std::vector<PartitionView> PartitionManager::gather_views(
    const controller::TopicRecord& t) {
  // Every agent holding a replica reports its own.
  std::set<std::string> nodes;
  for (const controller::PartitionRecord& p : t.partitions) {
    nodes.insert(p.replicas.begin(), p.replicas.end());
    nodes.insert(p.target_replicas.begin(), p.target_replicas.end());
  }
  std::map<int, std::vector<std::pair<std::string, PartitionView>>> reports;
  for (const std::string& node : nodes) {
    std::vector<PartitionView> views;
    if (node == options_.node_id) {
      views = local_views(t.name);
    } else {
      Result<std::vector<PartitionView>> remote =
          remote_views(node, t.name, kPeekTimeout);
      if (!remote.ok()) continue;  // unreachable: its replicas are not in
      views = std::move(remote).value();
    }
    for (PartitionView& v : views) reports[v.partition].emplace_back(node, v);
  }
  std::vector<PartitionView> out;
  for (std::size_t p = 0; p < t.partitions.size(); ++p) {
    PartitionView v;
    v.topic = t.name;
    v.partition = static_cast<int>(p);
    v.replicas = t.partitions[p].replicas;
    v.target_replicas = t.partitions[p].target_replicas;
    std::vector<std::string> errors;
    bool have_leader = false;
    for (const auto& [node, rep] : reports[v.partition]) {
      if (!rep.error.empty())
        errors.push_back("replica on " + node + ": " + rep.error);
      if (rep.is_leader) {
        have_leader = true;
        v.leader = node;
        v.in_sync = rep.in_sync;
        v.high_watermark = rep.high_watermark;
        v.start_offset = rep.start_offset;
        v.size_bytes = rep.size_bytes;
      } else if (v.leader.empty() && !rep.leader.empty()) {
        v.leader = rep.leader;
      }
    }
    v.error = join(errors, "; ");
    if (!have_leader) {
      v.status = errors.empty() ? "no_leader" : "offline";
    } else if (!v.target_replicas.empty()) {
      v.status = "reassigning";
    } else {
      v.status = errors.empty() ? "online" : "degraded";
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<PartitionView> PartitionManager::local_views(
    const std::string& topic) const {
  std::vector<std::pair<std::shared_ptr<Replica>, PartitionView>> items;
  {
    std::shared_lock lock(mu_);
    for (const auto& [g, h] : hosted_) {
      if (!topic.empty() && h.topic != topic) continue;
      PartitionView v;
      v.topic = h.topic;
      v.partition = h.partition;
      v.error = h.error;
      v.status = h.replica ? "online" : "offline";
      items.emplace_back(h.replica, std::move(v));
    }
  }
  std::vector<PartitionView> out;
  for (auto& [rep, v] : items) {
    if (rep) {
      const ReplicaStatus st = rep->status();
      if (!st.online) {
        v.status = "offline";
        v.error = st.error.empty() ? "raft group stopped" : st.error;
      }
      v.is_leader = st.leader && rep->ready_to_lead();
      if (st.leader_id != raft::kNoNode) v.leader = node_of_raft(st.leader_id);
      for (raft::NodeId id : st.in_sync) v.in_sync.push_back(node_of_raft(id));
      std::sort(v.in_sync.begin(), v.in_sync.end());
      v.high_watermark = st.high_watermark;
      v.start_offset = st.start_offset;
      v.size_bytes = st.size_bytes;
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const PartitionView& a, const PartitionView& b) {
              return std::tie(a.topic, a.partition) <
                     std::tie(b.topic, b.partition);
            });
  return out;
}

http::Response PartitionManager::local_state(const http::Request& r) {
  nlohmann::json parts = nlohmann::json::array();
  for (const PartitionView& v : local_views(r.matches[1])) {
    nlohmann::json j = view_json(v);
    j["is_leader"] = v.is_leader;
    parts.push_back(j);
  }
  return ok_json({{"node_id", options_.node_id}, {"partitions", parts}});
}

http::Response PartitionManager::alter_topic(const http::Request& r) {
  if (auto fwd = cluster_.forward_unless_leader(r)) return std::move(*fwd);
  const std::string name = r.matches[1];
  Result<nlohmann::json> body = api::parse_object(r.body, "topic change");
  if (!body.ok()) return http::Response::error(body.error());
  const nlohmann::json& j = *body;
  Result<controller::TopicRecord> t = find_topic(name);
  if (!t.ok()) return http::Response::error(t.error());
  controller::AlterTopic cmd;
  cmd.name = name;
  if (j.contains("retention_ms")) {
    auto v = int_field(j, "retention_ms", 0);
    if (!v || (*v != -1 && *v < 1)) {
      return bad("retention_ms: expected a positive number of ms, or -1");
    }
    cmd.retention_ms = *v;
  }
  if (j.contains("retention_bytes")) {
    auto v = int_field(j, "retention_bytes", 0);
    if (!v || (*v != -1 && *v < 1)) {
      return bad("retention_bytes: expected a positive number of bytes, or -1");
    }
    cmd.retention_bytes = *v;
  }
  if (j.contains("segment_bytes")) {
    Result<std::int64_t> v = segment_bytes_field(j, 0);
    if (!v.ok()) return http::Response::error(v.error());
    cmd.segment_bytes = static_cast<std::uint64_t>(*v);
  }
  if (j.contains("segment_ms")) {
    Result<std::int64_t> v = segment_ms_field(j);
    if (!v.ok()) return http::Response::error(v.error());
    cmd.segment_ms = *v;
  }
  if (j.contains("partitions")) {
    auto v = int_field(j, "partitions", 0);
    const auto have = static_cast<std::int64_t>(t->partitions.size());
    if (!v || *v < have || *v > kMaxPartitions) {
      return bad("partitions: expected " + std::to_string(have) +
                 " to 1024 (partitions can be added, never removed)");
    }
    if (*v > have) {
      Result<std::vector<std::vector<std::string>>> placement =
          Error(Code::internal, "placement not computed", {}, "topic");
      cluster_.read([&](const controller::ClusterState& state) {
        placement = controller::place_partitions(
            state.nodes(), state.topics(), static_cast<int>(have),
            static_cast<int>(*v - have),
            static_cast<int>(t->partitions[0].replicas.size()));
      });
      if (!placement.ok()) return http::Response::error(placement.error());
      cmd.new_partitions = std::move(placement).value();
    }
  }
  if (Status s = cluster_.propose(cmd, kWriteTimeout); !s.ok()) {
    return http::Response::error(s.error());
  }
  Result<controller::TopicRecord> after = find_topic(name);
  if (!after.ok()) return http::Response::error(after.error());
  return ok_json(topic_json(*after));
}

http::Response PartitionManager::delete_topic(const http::Request& r) {
  if (auto fwd = cluster_.forward_unless_leader(r)) return std::move(*fwd);
  controller::DeleteTopic cmd;
  cmd.name = r.matches[1];
  if (Status s = cluster_.propose(cmd, kWriteTimeout); !s.ok()) {
    return http::Response::error(s.error());
  }
  http::Response resp;
  resp.status = 204;
  return resp;
}

http::Response PartitionManager::reassign(const http::Request& r) {
  if (auto fwd = cluster_.forward_unless_leader(r)) return std::move(*fwd);
  const std::string name = r.matches[1];
  Result<nlohmann::json> body = api::parse_object(r.body, "reassignment");
  if (!body.ok()) return http::Response::error(body.error());
  const nlohmann::json& j = *body;
  Result<controller::TopicRecord> t = find_topic(name);
  if (!t.ok()) return http::Response::error(t.error());
  auto p = int_field(j, "partition", -1);
  if (!p || *p < 0 || *p >= static_cast<std::int64_t>(t->partitions.size())) {
    return bad("partition: expected 0 to " +
               std::to_string(t->partitions.size() - 1));
  }
  if (!j.contains("replicas") || !j["replicas"].is_array() ||
      j["replicas"].empty() || j["replicas"].size() > kMaxReplicas) {
    return bad("replicas: expected a list of 1 to 7 node ids");
  }
  std::vector<std::string> target;
  std::set<std::string> seen;
  for (const nlohmann::json& n : j["replicas"]) {
    if (!n.is_string()) return bad("replicas: expected node ids");
    const std::string id = n.get<std::string>();
    if (!seen.insert(id).second) return bad("replicas: " + id + " twice");
    target.push_back(id);
  }
  bool unknown = false;
  std::string which;
  cluster_.read([&](const controller::ClusterState& state) {
    for (const std::string& id : target) {
      if (state.node(id) == nullptr) {
        unknown = true;
        which = id;
      }
    }
  });
  if (unknown) {
    return err(Code::not_found, "node " + which + ": not a cluster member",
               "list members with: nwctl cluster status");
  }
  const controller::PartitionRecord& pr = t->partitions[*p];
  if (!pr.target_replicas.empty()) {
    return err(
        Code::failed_precondition,
        "partition " + std::to_string(*p) + " is being reassigned already",
        "wait until nwctl topic describe " + name +
            " no longer shows it reassigning");
  }
  controller::SetPartitionReplicas cmd;
  cmd.topic = name;
  cmd.partition = static_cast<int>(*p);
  cmd.replicas = pr.replicas;
  cmd.target_replicas = target;
  if (target == pr.replicas) cmd.target_replicas.clear();
  if (Status s = cluster_.propose(cmd, kWriteTimeout); !s.ok()) {
    return http::Response::error(s.error());
  }
  return ok_json({{"topic", name},
                  {"partition", *p},
                  {"from", pr.replicas},
                  {"to", target}},
                 202);
}

// Clients send later requests for the partition straight here.
void PartitionManager::name_leader(http::Response* resp) const {
  const std::string& api = cluster_.api_addr();
  if (!api.empty()) resp->headers.emplace_back("NW-Leader", api);
}

Result<std::vector<PartitionView>> PartitionManager::remote_views(
    const std::string& node, const std::string& topic, Duration timeout) const {
  NW_ASSIGN_OR_RETURN(http::Endpoint ep,
                      http::parse_endpoint(api_of_node(node)));
  http::ClientOptions opts;
  opts.timeout = timeout;
  opts.connect_timeout = timeout;
  http::Client client({ep}, opts);
  NW_ASSIGN_OR_RETURN(
      http::Response resp,
      client.get("/v1/topics/" + http::percent_encode(topic) + "/local"));
  NW_ASSIGN_OR_RETURN(nlohmann::json j,
                      api::parse_object(resp.body, "local state"));
  std::vector<PartitionView> views;
  if (!j["partitions"].is_array()) return views;
  for (const nlohmann::json& v : j["partitions"]) {
    views.push_back(view_from_json(v));
  }
  return views;
}

std::optional<http::Response> PartitionManager::route_to_leader(
    const http::Request& r, const controller::TopicRecord& t, int partition) {
  std::shared_ptr<Replica> rep = local(t, partition);
  if (rep && rep->ready_to_lead()) return std::nullopt;
  const std::string api = leader_api(t, partition);
  if (api.empty()) {
    return err(Code::unavailable,
               "partition " + t.name + "/" + std::to_string(partition) +
                   " has no leader yet",
               "retry in a moment; nwctl topic describe " + t.name +
                   " shows its replicas");
  }
  http::Response resp = http::forward(r, api, kForwardTimeout);
  if (resp.status == 503) forget_leader(t, partition);
  return resp;
}

// Checks the topic and partition of a /partitions/{p}/ request.
Result<controller::TopicRecord> PartitionManager::find_partition(
    const http::Request& r, int* partition) {
  NW_ASSIGN_OR_RETURN(controller::TopicRecord t,
                      find_topic(r.matches[1], TopicRead::local_first));
  std::optional<std::int64_t> p = to_i64(r.matches[2]);
  if (!p || *p < 0 || *p >= static_cast<std::int64_t>(t.partitions.size())) {
    return Error(Code::not_found,
                 "topic \"" + t.name + "\" has no partition " + r.matches[2] +
                     " (it has " + std::to_string(t.partitions.size()) + ")",
                 "nwctl topic describe " + t.name + " lists them", "topic");
  }
  *partition = static_cast<int>(*p);
  return t;
}

http::Response PartitionManager::produce(const http::Request& r) {
  int p = 0;
  Result<controller::TopicRecord> t = find_partition(r, &p);
  if (!t.ok()) return http::Response::error(t.error());
  Result<Acks> acks = parse_acks(r.param("acks"));
  if (!acks.ok()) return http::Response::error(acks.error());
  if (auto fwd = route_to_leader(r, *t, p)) return std::move(*fwd);
  std::shared_ptr<Replica> rep = local(*t, p);
  if (!rep) return err(Code::unavailable, "the replica moved; retry");
  Result<ProduceAck> ack = rep->produce(r.body, *acks, kProduceTimeout);
  if (!ack.ok()) return http::Response::error(ack.error());
  http::Response resp =
      *acks == Acks::none
          ? ok_json({{"partition", p}, {"count", ack->count}}, 202)
          : ok_json({{"partition", p},
                     {"base_offset", ack->base_offset},
                     {"count", ack->count},
                     {"duplicate", ack->duplicate}});
  name_leader(&resp);
  return resp;
}

http::Response PartitionManager::fetch(const http::Request& r) {
  int p = 0;
  Result<controller::TopicRecord> t = find_partition(r, &p);
  if (!t.ok()) return http::Response::error(t.error());
  std::optional<std::int64_t> offset = to_i64(r.param("offset"));
  if (!offset || *offset < 0) {
    return bad("offset: expected a number >= 0", "pass ?offset=N");
  }
  std::uint64_t max_bytes = kDefaultFetchBytes;
  if (r.has_param("max_bytes")) {
    std::optional<std::int64_t> v = to_i64(r.param("max_bytes"));
    if (!v || *v < 1) return bad("max_bytes: expected a number >= 1");
    max_bytes =
        std::min<std::uint64_t>(static_cast<std::uint64_t>(*v), kMaxFetchBytes);
  }
  std::uint64_t max_records = 0;
  if (r.has_param("max_records")) {
    std::optional<std::int64_t> v = to_i64(r.param("max_records"));
    if (!v || *v < 1) return bad("max_records: expected a number >= 1");
    max_records = static_cast<std::uint64_t>(*v);
  }
  std::int64_t wait_ms = 0;
  if (r.has_param("wait_ms")) {
    std::optional<std::int64_t> v = to_i64(r.param("wait_ms"));
    if (!v || *v < 0 || *v > kMaxWaitMs) {
      return bad("wait_ms: expected 0 to 30000");
    }
    wait_ms = *v;
  }
  if (auto fwd = route_to_leader(r, *t, p)) return std::move(*fwd);
  std::shared_ptr<Replica> rep = local(*t, p);
  if (!rep) return err(Code::unavailable, "the replica moved; retry");
  Result<FetchResult> f =
      rep->fetch(static_cast<std::uint64_t>(*offset), max_bytes,
                 std::chrono::milliseconds(wait_ms), max_records);
  if (!f.ok()) return http::Response::error(f.error());
  http::Response resp;
  resp.status = 200;
  resp.content_type = kBatchType;
  resp.body = std::move(f->data);
  resp.headers.emplace_back("NW-High-Watermark",
                            std::to_string(f->high_watermark));
  resp.headers.emplace_back("NW-Start-Offset", std::to_string(f->start_offset));
  resp.headers.emplace_back("NW-Next-Offset", std::to_string(f->next_offset));
  name_leader(&resp);
  return resp;
}

// `at` as earliest / latest / a time in ms; nullopt when malformed.
static std::optional<std::int64_t> parse_at(const std::string& at) {
  if (at == "earliest") return -2;
  if (at == "latest" || at.empty()) return -1;
  if (auto ms = to_i64(at); ms && *ms >= 0) return *ms;
  Result<WallTime> t = parse_rfc3339(at);
  if (!t.ok()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t->time_since_epoch())
      .count();
}

Result<std::uint64_t> PartitionManager::partition_offset(
    const controller::TopicRecord& t, int partition, std::int64_t at) {
  std::shared_ptr<Replica> rep = local(t, partition);
  if (rep && rep->ready_to_lead()) {
    if (at == -2) return rep->start_offset();
    if (at == -1) return rep->high_watermark();
    return rep->offset_for_time(at);
  }
  const std::string api = leader_api(t, partition);
  if (api.empty()) {
    return Error(Code::unavailable,
                 "partition " + t.name + "/" + std::to_string(partition) +
                     " has no leader yet",
                 "retry in a moment", "topic");
  }
  NW_ASSIGN_OR_RETURN(http::Endpoint ep, http::parse_endpoint(api));
  http::ClientOptions opts;
  opts.timeout = kWriteTimeout;
  http::Client client({ep}, opts);
  NW_ASSIGN_OR_RETURN(
      http::Response resp,
      client.get("/v1/topics/" + http::percent_encode(t.name) + "/partitions/" +
                 std::to_string(partition) + "/offsets?forwarded=1&at=" +
                 (at == -2   ? std::string("earliest")
                  : at == -1 ? std::string("latest")
                             : std::to_string(at))));
  NW_ASSIGN_OR_RETURN(nlohmann::json j,
                      api::parse_object(resp.body, "partition offset"));
  if (!j.contains("offset") || !j["offset"].is_number_unsigned()) {
    return Error(Code::internal, "partition offset: no offset in the answer",
                 {}, "topic");
  }
  return j["offset"].get<std::uint64_t>();
}

http::Response PartitionManager::partition_offsets(const http::Request& r) {
  int p = 0;
  Result<controller::TopicRecord> t = find_partition(r, &p);
  if (!t.ok()) return http::Response::error(t.error());
  std::optional<std::int64_t> at = parse_at(r.param("at"));
  if (!at) {
    return bad(
        "at: expected earliest, latest, a time (RFC 3339) or ms since "
        "the epoch");
  }
  if (auto fwd = route_to_leader(r, *t, p)) return std::move(*fwd);
  Result<std::uint64_t> off = partition_offset(*t, p, *at);
  if (!off.ok()) return http::Response::error(off.error());
  return ok_json({{"partition", p}, {"offset", *off}});
}

http::Response PartitionManager::list_offsets(const http::Request& r) {
  Result<controller::TopicRecord> t = find_topic(r.matches[1]);
  if (!t.ok()) return http::Response::error(t.error());
  std::optional<std::int64_t> at = parse_at(r.param("at"));
  if (!at) {
    return bad(
        "at: expected earliest, latest, a time (RFC 3339) or ms since "
        "the epoch");
  }
  nlohmann::json parts = nlohmann::json::array();
  for (std::size_t p = 0; p < t->partitions.size(); ++p) {
    Result<std::uint64_t> off = partition_offset(*t, static_cast<int>(p), *at);
    if (!off.ok()) return http::Response::error(off.error());
    parts.push_back({{"partition", p}, {"offset", *off}});
  }
  return ok_json({{"topic", t->name}, {"partitions", parts}});
}

}  // namespace nw::partition
