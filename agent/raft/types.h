#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace nw::raft {

// A uint64_t that only mixes with values of its own kind (redpanda's
// named_type): a term can never be passed where a log index is expected.
// Arithmetic with plain integers is allowed for stepping through a log.
template <class Tag>
class StrongU64 {
 public:
  constexpr StrongU64() = default;
  constexpr explicit StrongU64(std::uint64_t v) : v_(v) {}

  constexpr std::uint64_t value() const { return v_; }
  constexpr auto operator<=>(const StrongU64&) const = default;

  constexpr StrongU64 operator+(std::uint64_t n) const {
    return StrongU64(v_ + n);
  }
  // REQUIRES: n <= value().
  constexpr StrongU64 operator-(std::uint64_t n) const {
    return StrongU64(v_ - n);
  }

  friend std::ostream& operator<<(std::ostream& os, StrongU64 v) {
    return os << v.v_;
  }

 private:
  std::uint64_t v_ = 0;
};

struct NodeIdTag {};
struct TermTag {};
struct LogIndexTag {};

// A member of a Raft group; 0 means "none".
using NodeId = StrongU64<NodeIdTag>;
// A Raft term; 0 is before any election.
using Term = StrongU64<TermTag>;
// A position in the replicated log; the first entry is 1, 0 means "none".
using LogIndex = StrongU64<LogIndexTag>;

inline constexpr NodeId kNoNode{0};

enum class EntryType : std::uint8_t {
  normal,       // host data; empty data is the leader's no-op of its term
  conf_change,  // data is an encoded ConfChange (encode_conf_change)
};

// One log entry. The core never looks inside normal data.
struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::normal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

// Bytes an entry counts for in max_bytes_per_msg and LogStorage::entries.
inline std::uint64_t entry_size(const Entry& e) { return e.data.size() + 24; }

// The voting and non-voting members of a group at some log position.
struct Membership {
  std::set<NodeId> voters;
  std::set<NodeId> learners;

  bool is_voter(NodeId id) const { return voters.count(id) > 0; }
  bool is_learner(NodeId id) const { return learners.count(id) > 0; }
  bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
  bool empty() const { return voters.empty() && learners.empty(); }
  bool operator==(const Membership&) const = default;
};

// One single-server membership change (dissertation ch. 4).
enum class ConfChangeType : std::uint8_t {
  add_learner,  // a new, non-voting member
  promote,      // a learner becomes a voter
  remove,       // a voter or learner leaves
};

struct ConfChange {
  ConfChangeType type = ConfChangeType::add_learner;
  NodeId node;

  bool operator==(const ConfChange&) const = default;
};

// The data of a conf_change entry: type (1 byte) then node id (8 bytes LE).
std::string encode_conf_change(const ConfChange& cc);
// Errors: Code::corruption when `data` is not an encoded ConfChange.
Result<ConfChange> decode_conf_change(std::string_view data);

// `m` with `cc` applied. Errors: Code::failed_precondition when the change
// does not fit `m` (adding a member twice, promoting a non-learner, removing
// a stranger or the last voter).
Result<Membership> apply_conf_change(const Membership& m, const ConfChange& cc);

// What a node must have on stable storage before it sends any message of
// the Ready that carried it.
struct HardState {
  Term term;
  NodeId vote;  // kNoNode when it has not voted in `term`
  LogIndex commit;

  bool operator==(const HardState&) const = default;
};

// The position and membership a snapshot stands for.
struct SnapshotMeta {
  LogIndex index;  // last entry the snapshot includes; 0 for none
  Term term;       // its term
  Membership membership;

  bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
  SnapshotMeta meta;
  std::string data;  // the host's state machine, opaque to the core
};

enum class MessageType : std::uint8_t {
  pre_vote,         // "would you vote for me at term+1?" (term not bumped)
  pre_vote_resp,    //
  vote,             // RequestVote
  vote_resp,        //
  append,           // AppendEntries (also the probe)
  append_resp,      //
  heartbeat,        // leader liveness, commit, and ReadIndex confirmation
  heartbeat_resp,   //
  snapshot,         // InstallSnapshot: one chunk of the leader's snapshot
  timeout_now,      // leadership transfer: campaign now, skip pre-vote
  read_index,       // follower -> leader: ReadIndex on my behalf
  read_index_resp,  // leader -> follower: the index for `context`
  snapshot_resp,    // follower -> leader: a snapshot chunk acknowledged
};

std::string_view to_string(MessageType t);

// A message between two members of a group. Field meaning per type:
// - (pre_)vote: index/log_term are the candidate's last entry; transfer is
//   set when the election comes from a leadership transfer.
// - (pre_)vote_resp: reject says whether the vote was granted.
// - append: index/log_term are the entry before `entries`; commit is the
//   leader's commit index.
// - append_resp: accepted: index is the last index now known to match.
//   rejected: index is the rejected prev index; reject_hint/log_term are the
//   follower's hint for fast backtracking (an index and its term).
// - heartbeat: commit is min(follower's match, leader's commit); context
//   is the newest ReadIndex round (0 for none), echoed in heartbeat_resp.
// - read_index/read_index_resp: context is the host's; index the answer.
// - snapshot: one chunk of a snapshot. snapshot->meta is the whole
//   snapshot's; snapshot->data holds only the bytes
//   [snapshot_offset, snapshot_offset + data.size()) of its snapshot_size
//   bytes; snapshot_done is set on the last chunk (the one that ends at
//   snapshot_size). A whole snapshot is one chunk at offset 0, done.
// - snapshot_resp: index/log_term name the snapshot (meta index and term);
//   context is the byte offset the follower expects next; reject is set
//   when the chunk did not start there. The last chunk is answered by an
//   append_resp instead (the snapshot is installed).
struct Message {
  MessageType type = MessageType::append;
  NodeId from;
  NodeId to;
  Term term;
  Term log_term;
  LogIndex index;
  std::vector<Entry> entries;
  LogIndex commit;
  bool reject = false;
  LogIndex reject_hint;
  std::uint64_t context = 0;
  bool transfer = false;
  std::optional<Snapshot> snapshot;
  // Chunking of `snapshot` (type snapshot only; see above).
  std::uint64_t snapshot_offset = 0;
  std::uint64_t snapshot_size = 0;
  bool snapshot_done = false;
};

// A ReadIndex result: once the host has applied up to `index`, a read that
// the host started with `context` may be served linearizably.
struct ReadState {
  std::uint64_t context = 0;
  LogIndex index;

  bool operator==(const ReadState&) const = default;
};

enum class Role : std::uint8_t { follower, pre_candidate, candidate, leader };

std::string_view to_string(Role r);

}  // namespace nw::raft
