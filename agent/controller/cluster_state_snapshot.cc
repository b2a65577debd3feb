#include <string>
#include <utility>

#include "agent/controller/cluster_state.h"
#include "agent/controller/wire.h"

// ClusterState::snapshot and ::restore (docs/formats/controller-commands.md).
namespace nw::controller {
namespace {

constexpr std::uint8_t kSnapshotFormatVersion = 1;

Error corrupt(std::string_view reason) {
  return Error(Code::corruption, "controller snapshot: " + std::string(reason),
               {}, "controller");
}

}  // namespace

std::string ClusterState::snapshot() const {
  std::string out;
  raft::put_u8(&out, kSnapshotFormatVersion);
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
  return out;
}

Result<ClusterState> ClusterState::restore(std::string_view bytes) {
  raft::ByteReader r(bytes);
  std::uint8_t format = 0;
  if (!r.u8(&format)) return corrupt("empty");
  if (format != kSnapshotFormatVersion) {
    return corrupt("unknown format version " + std::to_string(format) +
                   " (this build supports 1)");
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
  if (!r.done()) {
    return corrupt("trailing bytes: " + std::to_string(r.remaining()));
  }
  return s;
}

}  // namespace nw::controller
