#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/controller/cluster_state.h"

// ClusterState's topics and consumer-group offsets: the apply cases of
// create_topic .. delete_group and their reads.
namespace nw::controller {
namespace {

Error rejected(Code code, std::string message, std::string hint = {}) {
  return Error(code, std::move(message), std::move(hint), "controller");
}

// `s` for a message: names come from commands and may be long or binary.
std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (char ch : s.substr(0, kMax)) {
    const auto b = static_cast<unsigned char>(ch);
    out += (b >= 0x20 && b < 0x7f) ? ch : '?';
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

Status check_name(std::string_view name, const std::string& what) {
  if (valid_name(name)) return ok_status();
  return rejected(Code::invalid_argument,
                  what + ": invalid name " + quoted(name),
                  "use 1 to 200 characters of A-Z, a-z, 0-9, '.', '_', '-'");
}

// -1 (no limit) or positive.
Status check_retention(std::int64_t v, const std::string& what,
                       std::string_view field) {
  if (v == -1 || v > 0) return ok_status();
  return rejected(Code::invalid_argument,
                  what + ": " + std::string(field) + " " + std::to_string(v) +
                      " is out of range",
                  "use -1 for no limit or a positive value");
}

// A topic's segment limits: bytes not 0, age 0 (the default) or positive.
Status check_segment_limits(std::uint64_t bytes, std::int64_t ms,
                            const std::string& what) {
  if (bytes == 0) {
    return rejected(Code::invalid_argument, what + ": segment_bytes 0");
  }
  if (ms < 0) {
    return rejected(Code::invalid_argument,
                    what + ": segment_ms " + std::to_string(ms),
                    "give a positive number of ms, or 0 for the default");
  }
  return ok_status();
}

Status check_partition_count(std::size_t n, const std::string& what) {
  if (n >= 1 && n <= kMaxPartitions) return ok_status();
  return rejected(Code::invalid_argument,
                  what + ": " + std::to_string(n) +
                      " partitions is out of range 1.." +
                      std::to_string(kMaxPartitions));
}

Error unknown_topic(const std::string& what, std::string_view name) {
  return rejected(Code::not_found, what + ": no topic " + quoted(name),
                  "list the topics with `nwctl topic list`");
}

}  // namespace

const TopicRecord* ClusterState::topic(std::string_view name) const {
  auto it = topics_.find(std::string(name));
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicRecord* ClusterState::topic_by_id(std::uint64_t id) const {
  auto it = topic_ids_.find(id);
  return it == topic_ids_.end() ? nullptr : topic(it->second);
}

const GroupOffsets* ClusterState::offsets(std::string_view group) const {
  auto it = groups_.find(std::string(group));
  return it == groups_.end() ? nullptr : &it->second;
}

Status ClusterState::check_replicas(
    const std::vector<std::string>& replicas, bool may_be_empty,
    const std::vector<const std::vector<std::string>*>& known,
    const std::string& what) const {
  if (replicas.empty() && !may_be_empty) {
    return rejected(Code::invalid_argument, what + ": no replicas");
  }
  std::set<std::string_view> seen;
  for (const std::string& id : replicas) {
    if (!seen.insert(id).second) {
      return rejected(Code::invalid_argument,
                      what + ": node " + quoted(id) + " listed twice");
    }
    bool already = false;
    for (const std::vector<std::string>* list : known) {
      for (const std::string& k : *list) already = already || k == id;
    }
    if (already) continue;
    const NodeRecord* n = node(id);
    if (n == nullptr) {
      return rejected(Code::not_found, what + ": unknown node " + quoted(id),
                      "list the nodes with `nwctl cluster status`");
    }
    if (n->state == NodeRecord::State::left) {
      return rejected(Code::failed_precondition,
                      what + ": node " + id + " has left the cluster",
                      "place the replicas on other agents");
    }
  }
  return ok_status();
}

Status ClusterState::check_new_partitions(
    const std::vector<std::vector<std::string>>& lists, std::size_t first,
    const std::string& what) const {
  for (std::size_t i = 0; i < lists.size(); ++i) {
    NW_RETURN_IF_ERROR(
        check_replicas(lists[i], false, {},
                       what + ": partition " + std::to_string(first + i)));
  }
  return ok_status();
}

Status ClusterState::apply_one(const CreateTopic& c) {
  std::string what = "create topic";
  NW_RETURN_IF_ERROR(check_name(c.name, what));
  what += " " + c.name;
  if (topics_.count(c.name) != 0) {
    return rejected(Code::conflict, what + ": exists",
                    "pick another name, or delete the topic first");
  }
  NW_RETURN_IF_ERROR(check_partition_count(c.partitions.size(), what));
  NW_RETURN_IF_ERROR(check_new_partitions(c.partitions, 0, what));
  NW_RETURN_IF_ERROR(check_retention(c.retention_ms, what, "retention_ms"));
  NW_RETURN_IF_ERROR(
      check_retention(c.retention_bytes, what, "retention_bytes"));
  NW_RETURN_IF_ERROR(check_segment_limits(c.segment_bytes, c.segment_ms, what));
  TopicRecord t;
  t.name = c.name;
  t.id = next_topic_id_++;
  for (const auto& replicas : c.partitions) {
    t.partitions.push_back(PartitionRecord{replicas, {}, replicas});
  }
  t.retention_ms = c.retention_ms;
  t.retention_bytes = c.retention_bytes;
  t.segment_bytes = c.segment_bytes;
  t.segment_ms = c.segment_ms;
  t.created_index = applied_index_;
  topic_ids_.emplace(t.id, t.name);
  topics_.emplace(c.name, std::move(t));
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const DeleteTopic& c) {
  auto it = topics_.find(c.name);
  if (it == topics_.end()) return unknown_topic("delete topic", c.name);
  topic_ids_.erase(it->second.id);
  topics_.erase(it);
  for (auto g = groups_.begin(); g != groups_.end();) {
    GroupOffsets& offsets = g->second;
    auto from = offsets.lower_bound({c.name, 0});
    auto to = from;
    while (to != offsets.end() && to->first.first == c.name) ++to;
    offsets.erase(from, to);
    g = offsets.empty() ? groups_.erase(g) : std::next(g);
  }
  changed_ = true;
  return ok_status();
}

Status ClusterState::apply_one(const AlterTopic& c) {
  auto it = topics_.find(c.name);
  if (it == topics_.end()) return unknown_topic("alter topic", c.name);
  TopicRecord& t = it->second;
  const std::string what = "alter topic " + c.name;
  if (c.retention_ms) {
    NW_RETURN_IF_ERROR(check_retention(*c.retention_ms, what, "retention_ms"));
  }
  if (c.retention_bytes) {
    NW_RETURN_IF_ERROR(
        check_retention(*c.retention_bytes, what, "retention_bytes"));
  }
  NW_RETURN_IF_ERROR(check_segment_limits(c.segment_bytes.value_or(1),
                                          c.segment_ms.value_or(0), what));
  // Compared as sizes first, so a hostile count cannot overflow the sum.
  if (c.new_partitions.size() > kMaxPartitions - t.partitions.size()) {
    return rejected(
        Code::invalid_argument,
        what + ": " +
            std::to_string(t.partitions.size() + c.new_partitions.size()) +
            " partitions is out of range 1.." + std::to_string(kMaxPartitions));
  }
  NW_RETURN_IF_ERROR(
      check_new_partitions(c.new_partitions, t.partitions.size(), what));
  TopicRecord updated = t;
  if (c.retention_ms) updated.retention_ms = *c.retention_ms;
  if (c.retention_bytes) updated.retention_bytes = *c.retention_bytes;
  if (c.segment_bytes) updated.segment_bytes = *c.segment_bytes;
  if (c.segment_ms) updated.segment_ms = *c.segment_ms;
  for (const auto& replicas : c.new_partitions) {
    updated.partitions.push_back(PartitionRecord{replicas, {}, replicas});
  }
  if (!(updated == t)) {
    t = std::move(updated);
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const SetPartitionReplicas& c) {
  auto it = topics_.find(c.topic);
  if (it == topics_.end()) {
    return unknown_topic("set partition replicas", c.topic);
  }
  TopicRecord& t = it->second;
  const std::string what = "set replicas of topic " + c.topic + " partition " +
                           std::to_string(c.partition);
  if (c.partition >= t.partitions.size()) {
    return rejected(Code::not_found, what + ": the topic has " +
                                         std::to_string(t.partitions.size()) +
                                         " partitions");
  }
  PartitionRecord& p = t.partitions[c.partition];
  const std::vector<const std::vector<std::string>*> known = {
      &p.replicas, &p.target_replicas};
  NW_RETURN_IF_ERROR(check_replicas(c.replicas, false, known, what));
  NW_RETURN_IF_ERROR(
      check_replicas(c.target_replicas, true, known, what + " (target)"));
  PartitionRecord updated{c.replicas, c.target_replicas, p.initial_replicas};
  if (!(updated == p)) {
    p = std::move(updated);
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const CommitOffsets& c) {
  std::string what = "commit offsets";
  NW_RETURN_IF_ERROR(check_name(c.group, what));
  what += " of group " + c.group;
  if (c.offsets.empty()) {
    return rejected(Code::invalid_argument, what + ": no offsets");
  }
  GroupOffsets updated;
  if (const GroupOffsets* current = offsets(c.group)) updated = *current;
  std::set<std::pair<std::string_view, std::uint32_t>> seen;
  for (const PartitionOffset& o : c.offsets) {
    const TopicRecord* t = topic(o.topic);
    if (t == nullptr) return unknown_topic(what, o.topic);
    if (o.partition >= t->partitions.size()) {
      return rejected(Code::not_found,
                      what + ": topic " + o.topic + " has no partition " +
                          std::to_string(o.partition) + " (it has " +
                          std::to_string(t->partitions.size()) + ")");
    }
    if (!seen.emplace(o.topic, o.partition).second) {
      return rejected(Code::invalid_argument,
                      what + ": topic " + o.topic + " partition " +
                          std::to_string(o.partition) + " listed twice");
    }
    updated[{o.topic, o.partition}] = o.offset;
  }
  GroupOffsets& current = groups_[c.group];
  if (updated != current) {
    current = std::move(updated);
    changed_ = true;
  }
  return ok_status();
}

Status ClusterState::apply_one(const DeleteGroup& c) {
  auto it = groups_.find(c.group);
  if (it == groups_.end()) {
    return rejected(
        Code::not_found,
        "delete group " + quoted(c.group) + ": it has no committed offsets",
        "list the groups with `nwctl group list`");
  }
  groups_.erase(it);
  changed_ = true;
  return ok_status();
}

}  // namespace nw::controller
