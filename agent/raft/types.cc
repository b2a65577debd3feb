#include "agent/raft/types.h"

#include <string>

namespace nw::raft {

std::string encode_conf_change(const ConfChange& cc) {
  std::string out(9, '\0');
  out[0] = static_cast<char>(cc.type);
  std::uint64_t v = cc.node.value();
  for (int i = 0; i < 8; ++i) {
    out[1 + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
  return out;
}

Result<ConfChange> decode_conf_change(std::string_view data) {
  if (data.size() != 9 ||
      static_cast<std::uint8_t>(data[0]) >
          static_cast<std::uint8_t>(ConfChangeType::remove)) {
    return Error(Code::corruption,
                 "decode conf change: expected 9 bytes with a known type", {},
                 "raft");
  }
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data[1 + i]))
         << (8 * i);
  }
  return ConfChange{static_cast<ConfChangeType>(data[0]), NodeId(v)};
}

Result<Membership> apply_conf_change(const Membership& m,
                                     const ConfChange& cc) {
  Membership out = m;
  const std::string who = "node " + std::to_string(cc.node.value());
  switch (cc.type) {
    case ConfChangeType::add_learner:
      if (cc.node == kNoNode || m.contains(cc.node)) {
        return Error(Code::failed_precondition,
                     "add learner: " + who + " is already a member", {},
                     "raft");
      }
      out.learners.insert(cc.node);
      return out;
    case ConfChangeType::promote:
      if (!m.is_learner(cc.node)) {
        return Error(Code::failed_precondition,
                     "promote: " + who + " is not a learner",
                     "add it as a learner first", "raft");
      }
      out.learners.erase(cc.node);
      out.voters.insert(cc.node);
      return out;
    case ConfChangeType::remove:
      if (!m.contains(cc.node)) {
        return Error(Code::failed_precondition,
                     "remove: " + who + " is not a member", {}, "raft");
      }
      if (m.is_voter(cc.node) && m.voters.size() == 1) {
        return Error(Code::failed_precondition,
                     "remove: " + who + " is the last voter", {}, "raft");
      }
      out.voters.erase(cc.node);
      out.learners.erase(cc.node);
      return out;
  }
  return Error(Code::invalid_argument, "conf change: unknown type", {}, "raft");
}

std::string_view to_string(MessageType t) {
  switch (t) {
    case MessageType::pre_vote:
      return "pre_vote";
    case MessageType::pre_vote_resp:
      return "pre_vote_resp";
    case MessageType::vote:
      return "vote";
    case MessageType::vote_resp:
      return "vote_resp";
    case MessageType::append:
      return "append";
    case MessageType::append_resp:
      return "append_resp";
    case MessageType::heartbeat:
      return "heartbeat";
    case MessageType::heartbeat_resp:
      return "heartbeat_resp";
    case MessageType::snapshot:
      return "snapshot";
    case MessageType::timeout_now:
      return "timeout_now";
    case MessageType::read_index:
      return "read_index";
    case MessageType::read_index_resp:
      return "read_index_resp";
    case MessageType::snapshot_resp:
      return "snapshot_resp";
  }
  return "unknown";
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::follower:
      return "follower";
    case Role::pre_candidate:
      return "pre_candidate";
    case Role::candidate:
      return "candidate";
    case Role::leader:
      return "leader";
  }
  return "unknown";
}

}  // namespace nw::raft
