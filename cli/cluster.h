#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

// The parts of `nwctl cluster ...` that do no I/O: checking the arguments,
// building the request bodies of the /v1/cluster API (docs/api.md,
// "Cluster") and turning its answers into what the commands print. The
// commands themselves (cluster.cc) only glue these to the HTTP client, so
// the tests check everything here without an agent.
//
// Argument errors are invalid_argument (nwctl exits 2) with a message that
// says what to write instead: "label: expected KEY=VALUE, got 'rack'".
// Decoding errors are invalid_argument naming the field, as common/api's
// decoders do. Threads: none; every function is pure.
namespace nw::ctl {

// One member of GET /v1/cluster/status. match_index and lag are absent in
// the member object that PUT .../labels returns, and may be absent in a
// stale answer from a follower, which does not track replication.
struct ClusterMember {
  std::string id;
  std::uint64_t raft_id = 0;
  std::string api_addr;
  std::string peer_addr;
  std::string role;   // voter | learner
  std::string state;  // healthy | unreachable
  bool leader = false;
  std::optional<std::uint64_t> match_index;
  std::optional<std::uint64_t> lag;
  // How far its wall clock is ahead of the leader's (negative: behind) and
  // the round trip of that measurement; measured by the leader only, so
  // absent (null) when not measured yet and in a follower's stale answer.
  std::optional<std::int64_t> clock_offset_ms;
  std::optional<std::int64_t> clock_rtt_ms;
  std::map<std::string, std::string> labels;
};

// GET /v1/cluster/status.
struct ClusterStatus {
  std::string cluster_id;  // "" before the cluster formed
  std::string node_id;     // the agent that answered
  bool stale = false;
  std::string leader;  // "" when no leader is known
  std::uint64_t term = 0;
  std::uint64_t commit_index = 0;
  std::uint64_t applied_index = 0;
  std::vector<ClusterMember> members;
};

// Decoders; unknown fields are ignored. invalid_argument
// "cluster status: members[1]: missing field \"id\"".
Result<ClusterStatus> cluster_status_from_json(std::string_view body);
Result<ClusterMember> cluster_member_from_json(std::string_view body);

// `nwctl cluster status` as a table: a block of fields (cluster, leader,
// term, commit and applied index, the agent that answered), a blank line,
// then one row per member with "*" in the first column for the leader.
std::string render_cluster_status(const ClusterStatus& status);
// The CLOCK column: "+3ms", "-120ms", "0ms"; "-" when unknown.
std::string clock_offset_text(const std::optional<std::int64_t>& offset_ms);
// `nwctl cluster label` as a table: the member's fields, one per line.
std::string render_cluster_member(const ClusterMember& member);

// `nwctl cluster join ADDR...`: each argument may be a comma-separated
// list; every address must be host:port (a PEER address). Duplicates are
// dropped, order is kept. invalid_argument for an empty list or a bad
// address.
Result<std::vector<std::string>> parse_join_addrs(
    const std::vector<std::string>& args);
// {"addrs": [...]}.
std::string join_request_json(const std::vector<std::string>& addrs);
// "joined cluster C as NODE (leader L)" from the join answer.
Result<std::string> render_join(std::string_view body);

// A node id argument: invalid_argument when empty. `command` names the
// command for the message ("remove").
Status check_node_id(std::string_view command, std::string_view node_id);
// {"node_id": "...", "force": false}.
std::string remove_request_json(std::string_view node_id, bool force);
// "removed N (M members left)" from the remove answer.
Result<std::string> render_remove(std::string_view body);

// {"node_id": "..."}; "" asks for the most caught-up other voter.
std::string transfer_request_json(std::string_view node_id);
// "leader: A -> B" from the transfer-leader answer.
Result<std::string> render_transfer(std::string_view body);

// `nwctl cluster label NODE_ID KEY=VALUE... --remove KEY...`.
struct LabelChange {
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
};
// Keys are 1-63 characters of a-z 0-9 _ . -, values at most 255 bytes. A
// key may be set once and may not be both set and removed; at least one
// change is required. invalid_argument otherwise.
Result<LabelChange> parse_label_args(const std::vector<std::string>& pairs,
                                     const std::vector<std::string>& remove);
// {"set": {...}, "remove": [...]}.
std::string label_request_json(const LabelChange& change);
// "/v1/cluster/nodes/<id, percent-encoded>/labels".
std::string label_path(std::string_view node_id);

// Re-indents an answer for -o json without dropping fields this nwctl does
// not know. invalid_argument when body is not a JSON object.
Result<std::string> pretty_json(std::string_view body, std::string_view what);

}  // namespace nw::ctl
