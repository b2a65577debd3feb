#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/controller/cluster_state.h"
#include "agent/controller/wire.h"

// ClusterState::snapshot and ::restore (docs/formats/controller-commands.md).
namespace nw::controller {
namespace {

// Version 1 holds the nodes; version 2 appends next_topic_id, the topics
// and the groups' offsets; version 3 appends the jobs (with their missed
// slots), the runs and the locks (cluster_state_jobs_snapshot.cc).
// Version 4 appends the topics' segment ages (TopicRecord::segment_ms);
// snapshot() writes the lowest version that holds the state (4 only when
// a topic has segment_ms set, else 3); restore() reads all four.
constexpr std::uint8_t kSnapshotFormatVersion = 4;
constexpr std::uint8_t kSegmentMsSnapshotFormatVersion = 4;
constexpr std::uint8_t kOldestSnapshotFormatVersion = 1;

bool distinct(const std::vector<std::string>& ids) {
  std::set<std::string_view> seen;
  for (const std::string& id : ids) {
    if (!seen.insert(id).second) return false;
  }
  return true;
}

Error corrupt(std::string_view reason) {
  return Error(Code::corruption, "controller snapshot: " + std::string(reason),
               {}, "controller");
}

}  // namespace

std::string ClusterState::snapshot() const {
  std::string out;
  std::uint32_t with_segment_ms = 0;
  for (const auto& [name, t] : topics_) {
    if (t.segment_ms != 0) ++with_segment_ms;
  }
  raft::put_u8(&out, with_segment_ms > 0 ? kSegmentMsSnapshotFormatVersion
                                         : std::uint8_t{3});
  raft::put_u64(&out, applied_index_.value());
  raft::put_u64(&out, version_);
  raft::put_u32(&out, static_cast<std::uint32_t>(nodes_.size()));
  for (const auto& [id, n] : nodes_) {
    wire::put_string(&out, n.id);
    raft::put_u64(&out, n.raft_id.value());
    wire::put_string(&out, n.api_addr);
    wire::put_string(&out, n.peer_addr);
    wire::put_labels(&out, n.labels);
    raft::put_u8(&out, static_cast<std::uint8_t>(n.role));
    raft::put_u8(&out, static_cast<std::uint8_t>(n.state));
    raft::put_u64(&out, static_cast<std::uint64_t>(n.last_heartbeat_ms));
  }
  raft::put_u64(&out, next_topic_id_);
  raft::put_u32(&out, static_cast<std::uint32_t>(topics_.size()));
  for (const auto& [name, t] : topics_) {
    wire::put_string(&out, t.name);
    raft::put_u64(&out, t.id);
    wire::put_i64(&out, t.retention_ms);
    wire::put_i64(&out, t.retention_bytes);
    raft::put_u64(&out, t.segment_bytes);
    raft::put_u64(&out, t.created_index.value());
    raft::put_u32(&out, static_cast<std::uint32_t>(t.partitions.size()));
    for (const PartitionRecord& p : t.partitions) {
      wire::put_strings(&out, p.replicas);
      wire::put_strings(&out, p.target_replicas);
      wire::put_strings(&out, p.initial_replicas);
    }
  }
  raft::put_u32(&out, static_cast<std::uint32_t>(groups_.size()));
  for (const auto& [group, offsets] : groups_) {
    wire::put_string(&out, group);
    raft::put_u32(&out, static_cast<std::uint32_t>(offsets.size()));
    for (const auto& [key, offset] : offsets) {
      wire::put_string(&out, key.first);
      raft::put_u32(&out, key.second);
      raft::put_u64(&out, offset);
    }
  }
  snapshot_jobs(&out);
  if (with_segment_ms > 0) {
    raft::put_u32(&out, with_segment_ms);
    for (const auto& [name, t] : topics_) {
      if (t.segment_ms == 0) continue;
      wire::put_string(&out, name);
      wire::put_i64(&out, t.segment_ms);
    }
  }
  return out;
}

Result<ClusterState> ClusterState::restore(std::string_view bytes) {
  raft::ByteReader r(bytes);
  std::uint8_t format = 0;
  if (!r.u8(&format)) return corrupt("empty");
  if (format < kOldestSnapshotFormatVersion ||
      format > kSnapshotFormatVersion) {
    return corrupt("unknown format version " + std::to_string(format) +
                   " (this build supports 1 to 4)");
  }
  ClusterState s;
  std::uint32_t count = 0;
  if (!r.strong(&s.applied_index_) || !r.u64(&s.version_) || !r.u32(&count)) {
    return corrupt("truncated in header");
  }
  // A node takes at least 4 + 8 + 4 + 4 + 4 + 1 + 1 + 8 = 34 bytes.
  if (count > r.remaining() / 34) {
    return corrupt("truncated in nodes: count " + std::to_string(count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    NodeRecord n;
    std::string why;
    const std::string where = "node " + std::to_string(i) + ": ";
    if (!wire::read_string(&r, &n.id) || !r.strong(&n.raft_id) ||
        !wire::read_string(&r, &n.api_addr) ||
        !wire::read_string(&r, &n.peer_addr)) {
      return corrupt(where + "truncated");
    }
    if (!wire::read_labels(&r, &n.labels, &why) ||
        !wire::read_role(&r, &n.role, &why) ||
        !wire::read_state(&r, &n.state, &why)) {
      return corrupt(where + why);
    }
    if (!wire::read_i64(&r, &n.last_heartbeat_ms)) {
      return corrupt(where + "truncated in last heartbeat");
    }
    if (n.id.empty()) return corrupt(where + "empty id");
    if (!s.nodes_.empty() && !(s.nodes_.rbegin()->first < n.id)) {
      return corrupt(where + "ids not strictly ascending");
    }
    if (n.raft_id == raft::kNoNode) return corrupt(where + "raft id 0");
    if (!s.by_raft_.emplace(n.raft_id, n.id).second) {
      return corrupt(where + "raft id " + std::to_string(n.raft_id.value()) +
                     " used twice");
    }
    std::string key = n.id;
    s.nodes_.emplace_hint(s.nodes_.end(), std::move(key), std::move(n));
  }
  if (format >= 2) {
    Status topics = s.restore_topics(&r);
    if (!topics.ok()) return std::move(topics).error();
  }
  if (format >= 3) {
    Status jobs = s.restore_jobs(&r);
    if (!jobs.ok()) return std::move(jobs).error();
  }
  if (format >= kSegmentMsSnapshotFormatVersion) {
    // At least one (else the snapshot is version 3), names strictly
    // ascending, each a topic, each age positive.
    std::uint32_t n = 0;
    if (!r.u32(&n)) return corrupt("truncated in segment ages");
    if (n == 0 || n > s.topics_.size()) {
      return corrupt("segment ages: count " + std::to_string(n));
    }
    std::string prev;
    for (std::uint32_t i = 0; i < n; ++i) {
      std::string name;
      std::int64_t ms = 0;
      if (!wire::read_string(&r, &name) || !wire::read_i64(&r, &ms)) {
        return corrupt("truncated in segment ages");
      }
      if (i > 0 && !(prev < name)) {
        return corrupt("segment ages: names not strictly ascending");
      }
      auto it = s.topics_.find(name);
      if (it == s.topics_.end() || ms <= 0) {
        return corrupt("segment ages: " + name +
                       ": unknown topic or age not positive");
      }
      it->second.segment_ms = ms;
      prev = std::move(name);
    }
  }
  if (!r.done()) {
    return corrupt("trailing bytes: " + std::to_string(r.remaining()));
  }
  return s;
}

Status ClusterState::restore_topics(raft::ByteReader* r) {
  std::uint32_t count = 0;
  if (!r->u64(&next_topic_id_) || !r->u32(&count)) {
    return corrupt("truncated in topics header");
  }
  if (next_topic_id_ == 0) return corrupt("next topic id 0");
  // A topic takes at least 4 + 8 + 8 + 8 + 8 + 8 + 4 = 48 bytes.
  if (count > r->remaining() / 48) {
    return corrupt("truncated in topics: count " + std::to_string(count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    TopicRecord t;
    std::uint32_t partitions = 0;
    const std::string where = "topic " + std::to_string(i) + ": ";
    if (!wire::read_string(r, &t.name) || !r->u64(&t.id) ||
        !wire::read_i64(r, &t.retention_ms) ||
        !wire::read_i64(r, &t.retention_bytes) || !r->u64(&t.segment_bytes) ||
        !r->strong(&t.created_index) || !r->u32(&partitions)) {
      return corrupt(where + "truncated");
    }
    if (!valid_name(t.name)) return corrupt(where + "invalid name");
    if (!topics_.empty() && !(topics_.rbegin()->first < t.name)) {
      return corrupt(where + "names not strictly ascending");
    }
    if (t.id == 0 || t.id >= next_topic_id_) {
      return corrupt(where + "id " + std::to_string(t.id) +
                     " not in 1..next topic id " +
                     std::to_string(next_topic_id_));
    }
    if (t.retention_ms < -1 || t.retention_ms == 0 || t.retention_bytes < -1 ||
        t.retention_bytes == 0 || t.segment_bytes == 0) {
      return corrupt(where + "retention or segment size out of range");
    }
    if (partitions == 0 || partitions > kMaxPartitions) {
      return corrupt(where + std::to_string(partitions) + " partitions");
    }
    // Each partition takes at least three 4-byte counts.
    if (partitions > r->remaining() / 12) {
      return corrupt(where + "truncated in partitions");
    }
    t.partitions.resize(partitions);
    for (std::uint32_t p = 0; p < partitions; ++p) {
      PartitionRecord& rec = t.partitions[p];
      std::string why;
      if (!wire::read_strings(r, &rec.replicas, "replicas", &why) ||
          !wire::read_strings(r, &rec.target_replicas, "target", &why) ||
          !wire::read_strings(r, &rec.initial_replicas, "initial", &why)) {
        return corrupt(where + "partition " + std::to_string(p) + ": " + why);
      }
      if (rec.replicas.empty() || !distinct(rec.replicas) ||
          !distinct(rec.target_replicas) || rec.initial_replicas.empty() ||
          !distinct(rec.initial_replicas)) {
        return corrupt(where + "partition " + std::to_string(p) +
                       ": replicas empty or listed twice");
      }
    }
    if (!topic_ids_.emplace(t.id, t.name).second) {
      return corrupt(where + "id " + std::to_string(t.id) + " used twice");
    }
    std::string key = t.name;
    topics_.emplace_hint(topics_.end(), std::move(key), std::move(t));
  }
  if (!r->u32(&count)) return corrupt("truncated in group count");
  // A group takes at least 4 + 4 bytes.
  if (count > r->remaining() / 8) {
    return corrupt("truncated in groups: count " + std::to_string(count));
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string group;
    std::uint32_t n = 0;
    const std::string where = "group " + std::to_string(i) + ": ";
    if (!wire::read_string(r, &group) || !r->u32(&n)) {
      return corrupt(where + "truncated");
    }
    if (!valid_name(group)) return corrupt(where + "invalid name");
    if (!groups_.empty() && !(groups_.rbegin()->first < group)) {
      return corrupt(where + "names not strictly ascending");
    }
    // An offset takes at least 4 + 4 + 8 bytes; a group has one or more.
    if (n == 0 || n > r->remaining() / 16) {
      return corrupt(where + "offset count " + std::to_string(n));
    }
    GroupOffsets offsets;
    for (std::uint32_t j = 0; j < n; ++j) {
      std::pair<std::string, std::uint32_t> key;
      std::uint64_t offset = 0;
      if (!wire::read_string(r, &key.first) || !r->u32(&key.second) ||
          !r->u64(&offset)) {
        return corrupt(where + "truncated in offset " + std::to_string(j));
      }
      if (!offsets.empty() && !(offsets.rbegin()->first < key)) {
        return corrupt(where + "offsets not strictly ascending");
      }
      const TopicRecord* t = topic(key.first);
      if (t == nullptr || key.second >= t->partitions.size()) {
        return corrupt(where + "offset of an unknown topic or partition");
      }
      offsets.emplace_hint(offsets.end(), std::move(key), offset);
    }
    groups_.emplace_hint(groups_.end(), std::move(group), std::move(offsets));
  }
  return ok_status();
}

}  // namespace nw::controller
