#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cluster/identity.h"
#include "common/base/result.h"

// The control messages agents exchange on the transport's group 0, before
// and besides Raft: discovery, join and forwarded proposals. JSON, because
// they are rare and small and a readable wire helps debugging; the decoder
// takes hostile bytes (every field checked, no exception escapes).
// docs/formats/cluster-control.md is the reference.
namespace nw::cluster {

// removed: the leader tells a member it removed (it may never receive the
// log entry that says so, since the leader stops replicating to it).
// ping / pong: the leader measures a member's clock offset (clock_skew.h).
enum class ControlType {
  info,
  join,
  join_resp,
  propose,
  propose_resp,
  removed,
  ping,
  pong
};

struct ControlMessage {
  ControlType type = ControlType::info;
  std::uint64_t req = 0;  // join/propose/ping and their answers
  // info and join: the sender.
  KnownPeer self;
  std::string api_addr;
  // info: bootstrap_expect and what the sender knows.
  int expect = 0;
  std::string cluster_id;                     // info, join_resp
  std::vector<std::uint64_t> initial_voters;  // info, join_resp
  // info: the sender, the founders of its cluster (when a member), then the
  // candidates it heard from; join_resp: members.
  std::vector<KnownPeer> peers;
  // join_resp / propose_resp: the outcome.
  std::string code = "ok";
  std::string message;
  std::string hint;
  std::string leader;            // join_resp: the leader, for a redirect
  std::string leader_peer_addr;  // join_resp
  std::string data;              // propose: the command bytes (hex on wire)
  // ping / pong: the sender's wall clock when it sent the message, in
  // microseconds since the Unix epoch. Optional on the wire (0 if absent):
  // agents older than ping/pong do not send it.
  std::int64_t wall_us = 0;
};

std::string encode_control(const ControlMessage& m);
// Errors: Code::invalid_argument naming what is wrong.
Result<ControlMessage> decode_control(std::string_view bytes);

// "c-" + 16 hex digits.
std::string make_cluster_id(std::uint64_t seed);

}  // namespace nw::cluster
