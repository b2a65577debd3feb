#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/controller/node_record.h"
#include "agent/raft/types.h"
#include "common/base/result.h"

// The commands of the controller's state machine and their binary encoding
// (docs/formats/controller-commands.md). A command is the data of a normal
// Raft entry of the controller group; ClusterState::apply decodes it.
//
// To add a command type (topics, jobs, ...): a new struct here, a new
// CommandType value (never reuse or renumber one), a new alternative at the
// END of Command, its encode/decode case in command_codec.cc and its apply
// case in cluster_state.cc. Existing encodings never change; a changed
// layout of an existing type needs a new format version.
//
// Value types; the codec functions are pure and safe from any thread.
namespace nw::controller {

// The tag byte of each command type (byte 1 of the encoding).
enum class CommandType : std::uint8_t {
  register_node = 1,
  update_node = 2,
  set_role = 3,
  set_state = 4,
  heartbeat = 5,
  remove_node = 6,
  set_labels = 7,
};

std::string_view to_string(CommandType t);

// Adds a node, or, for an id already registered with the same raft id,
// replaces its addresses, labels and role (so a retried join is harmless).
// state and last_heartbeat_ms of `node` are ignored and not encoded.
struct RegisterNode {
  NodeRecord node;
  bool operator==(const RegisterNode&) const = default;
};

// Replaces the fields that are set, keeps the others.
struct UpdateNode {
  std::string id;
  std::optional<std::string> api_addr;
  std::optional<std::string> peer_addr;
  std::optional<std::map<std::string, std::string>> labels;
  bool operator==(const UpdateNode&) const = default;
};

struct SetRole {
  std::string id;
  NodeRecord::Role role = NodeRecord::Role::voter;
  bool operator==(const SetRole&) const = default;
};

struct SetState {
  std::string id;
  NodeRecord::State state = NodeRecord::State::healthy;
  bool operator==(const SetState&) const = default;
};

// `time_ms` is the proposing leader's wall clock.
struct Heartbeat {
  std::string id;
  std::int64_t time_ms = 0;
  bool operator==(const Heartbeat&) const = default;
};

struct RemoveNode {
  std::string id;
  bool operator==(const RemoveNode&) const = default;
};

// Sets and removes some labels of a node, keeping the others; merged in
// the state machine, so concurrent label writes never lose each other.
// A key in both is set (remove applies first).
struct SetLabels {
  std::string id;
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;  // strictly ascending
  bool operator==(const SetLabels&) const = default;
};

// Alternatives are in CommandType order; new ones go at the end.
using Command = std::variant<RegisterNode, UpdateNode, SetRole, SetState,
                             Heartbeat, RemoveNode, SetLabels>;

CommandType command_type(const Command& c);

// The format version encode_command writes (byte 0 of the encoding).
inline constexpr std::uint8_t kCommandFormatVersion = 1;

// `c` as bytes, format version kCommandFormatVersion.
std::string encode_command(const Command& c);

// The command encoded in `bytes`, which may be hostile: nothing asserts,
// and no allocation is sized by a length the bytes claim but do not hold.
// Errors: Code::invalid_argument ("controller command: <reason>") for an
// unknown version or type, a truncated field, an out-of-range enum, a
// non-canonical encoding (labels not strictly ascending, reserved bits)
// or trailing bytes. Every accepted input is exactly encode_command of
// the result.
Result<Command> decode_command(std::string_view bytes);

}  // namespace nw::controller
