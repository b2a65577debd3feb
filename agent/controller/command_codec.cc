#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "agent/controller/command.h"
#include "agent/controller/wire.h"

namespace nw::controller {

std::string_view to_string(NodeRecord::Role r) {
  switch (r) {
    case NodeRecord::Role::voter:
      return "voter";
    case NodeRecord::Role::learner:
      return "learner";
  }
  return "?";
}

std::string_view to_string(NodeRecord::State s) {
  switch (s) {
    case NodeRecord::State::healthy:
      return "healthy";
    case NodeRecord::State::unreachable:
      return "unreachable";
    case NodeRecord::State::left:
      return "left";
  }
  return "?";
}

std::string_view to_string(CommandType t) {
  switch (t) {
    case CommandType::register_node:
      return "register_node";
    case CommandType::update_node:
      return "update_node";
    case CommandType::set_role:
      return "set_role";
    case CommandType::set_state:
      return "set_state";
    case CommandType::heartbeat:
      return "heartbeat";
    case CommandType::remove_node:
      return "remove_node";
    case CommandType::set_labels:
      return "set_labels";
  }
  return "?";
}

CommandType command_type(const Command& c) {
  // Alternative i of Command is CommandType value i + 1 (command.h).
  return static_cast<CommandType>(c.index() + 1);
}

namespace wire {

void put_string(std::string* out, std::string_view s) {
  raft::put_u32(out, static_cast<std::uint32_t>(s.size()));
  out->append(s);
}

void put_labels(std::string* out,
                const std::map<std::string, std::string>& labels) {
  raft::put_u32(out, static_cast<std::uint32_t>(labels.size()));
  for (const auto& [key, value] : labels) {
    put_string(out, key);
    put_string(out, value);
  }
}

bool read_string(raft::ByteReader* r, std::string* s) {
  std::uint32_t n = 0;
  std::string_view bytes;
  if (!r->u32(&n) || !r->bytes(n, &bytes)) return false;
  s->assign(bytes);
  return true;
}

bool read_labels(raft::ByteReader* r,
                 std::map<std::string, std::string>* labels, std::string* why) {
  std::uint32_t n = 0;
  if (!r->u32(&n)) {
    *why = "truncated in label count";
    return false;
  }
  // Each label takes at least 8 bytes (two lengths): refuse a count the
  // remaining bytes cannot hold before looping on it.
  if (n > r->remaining() / 8) {
    *why = "truncated in labels: count " + std::to_string(n);
    return false;
  }
  labels->clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string key;
    std::string value;
    if (!read_string(r, &key) || !read_string(r, &value)) {
      *why = "truncated in label " + std::to_string(i);
      return false;
    }
    if (!labels->empty() && !(labels->rbegin()->first < key)) {
      *why = "label keys not strictly ascending at label " + std::to_string(i);
      return false;
    }
    labels->emplace_hint(labels->end(), std::move(key), std::move(value));
  }
  return true;
}

bool read_role(raft::ByteReader* r, NodeRecord::Role* role, std::string* why) {
  std::uint8_t v = 0;
  if (!r->u8(&v)) {
    *why = "truncated in role";
    return false;
  }
  if (v > static_cast<std::uint8_t>(NodeRecord::Role::learner)) {
    *why = "unknown role " + std::to_string(v);
    return false;
  }
  *role = static_cast<NodeRecord::Role>(v);
  return true;
}

bool read_state(raft::ByteReader* r, NodeRecord::State* state,
                std::string* why) {
  std::uint8_t v = 0;
  if (!r->u8(&v)) {
    *why = "truncated in state";
    return false;
  }
  if (v > static_cast<std::uint8_t>(NodeRecord::State::left)) {
    *why = "unknown state " + std::to_string(v);
    return false;
  }
  *state = static_cast<NodeRecord::State>(v);
  return true;
}

bool read_i64(raft::ByteReader* r, std::int64_t* v) {
  std::uint64_t raw = 0;
  if (!r->u64(&raw)) return false;
  *v = static_cast<std::int64_t>(raw);  // two's complement (C++20)
  return true;
}

}  // namespace wire

namespace {

constexpr std::uint8_t kUpdateApiAddr = 1;
constexpr std::uint8_t kUpdatePeerAddr = 2;
constexpr std::uint8_t kUpdateLabels = 4;
constexpr std::uint8_t kUpdateKnownBits = 7;

Error bad(std::string_view reason) {
  return Error(Code::invalid_argument,
               "controller command: " + std::string(reason), {}, "controller");
}

void encode_body(std::string* out, const RegisterNode& c) {
  wire::put_string(out, c.node.id);
  raft::put_u64(out, c.node.raft_id.value());
  wire::put_string(out, c.node.api_addr);
  wire::put_string(out, c.node.peer_addr);
  wire::put_labels(out, c.node.labels);
  raft::put_u8(out, static_cast<std::uint8_t>(c.node.role));
}

void encode_body(std::string* out, const UpdateNode& c) {
  wire::put_string(out, c.id);
  std::uint8_t present = 0;
  if (c.api_addr) present |= kUpdateApiAddr;
  if (c.peer_addr) present |= kUpdatePeerAddr;
  if (c.labels) present |= kUpdateLabels;
  raft::put_u8(out, present);
  if (c.api_addr) wire::put_string(out, *c.api_addr);
  if (c.peer_addr) wire::put_string(out, *c.peer_addr);
  if (c.labels) wire::put_labels(out, *c.labels);
}

void encode_body(std::string* out, const SetRole& c) {
  wire::put_string(out, c.id);
  raft::put_u8(out, static_cast<std::uint8_t>(c.role));
}

void encode_body(std::string* out, const SetState& c) {
  wire::put_string(out, c.id);
  raft::put_u8(out, static_cast<std::uint8_t>(c.state));
}

void encode_body(std::string* out, const Heartbeat& c) {
  wire::put_string(out, c.id);
  raft::put_u64(out, static_cast<std::uint64_t>(c.time_ms));
}

void encode_body(std::string* out, const RemoveNode& c) {
  wire::put_string(out, c.id);
}

void encode_body(std::string* out, const SetLabels& c) {
  wire::put_string(out, c.id);
  wire::put_labels(out, c.set);
  raft::put_u32(out, static_cast<std::uint32_t>(c.remove.size()));
  for (const std::string& k : c.remove) wire::put_string(out, k);
}

// Each decode_body returns false with *why set on a bad body.
bool decode_body(raft::ByteReader* r, RegisterNode* c, std::string* why) {
  NodeRecord& n = c->node;
  if (!wire::read_string(r, &n.id)) return (*why = "truncated in id", false);
  if (!r->strong(&n.raft_id)) return (*why = "truncated in raft id", false);
  if (!wire::read_string(r, &n.api_addr)) {
    return (*why = "truncated in api address", false);
  }
  if (!wire::read_string(r, &n.peer_addr)) {
    return (*why = "truncated in peer address", false);
  }
  return wire::read_labels(r, &n.labels, why) &&
         wire::read_role(r, &n.role, why);
}

bool decode_body(raft::ByteReader* r, UpdateNode* c, std::string* why) {
  if (!wire::read_string(r, &c->id)) return (*why = "truncated in id", false);
  std::uint8_t present = 0;
  if (!r->u8(&present)) return (*why = "truncated in field flags", false);
  if ((present & ~kUpdateKnownBits) != 0) {
    return (*why = "reserved field flag bits set", false);
  }
  if ((present & kUpdateApiAddr) != 0) {
    c->api_addr.emplace();
    if (!wire::read_string(r, &*c->api_addr)) {
      return (*why = "truncated in api address", false);
    }
  }
  if ((present & kUpdatePeerAddr) != 0) {
    c->peer_addr.emplace();
    if (!wire::read_string(r, &*c->peer_addr)) {
      return (*why = "truncated in peer address", false);
    }
  }
  if ((present & kUpdateLabels) != 0) {
    c->labels.emplace();
    if (!wire::read_labels(r, &*c->labels, why)) return false;
  }
  return true;
}

bool decode_body(raft::ByteReader* r, SetRole* c, std::string* why) {
  if (!wire::read_string(r, &c->id)) return (*why = "truncated in id", false);
  return wire::read_role(r, &c->role, why);
}

bool decode_body(raft::ByteReader* r, SetState* c, std::string* why) {
  if (!wire::read_string(r, &c->id)) return (*why = "truncated in id", false);
  return wire::read_state(r, &c->state, why);
}

bool decode_body(raft::ByteReader* r, Heartbeat* c, std::string* why) {
  if (!wire::read_string(r, &c->id)) return (*why = "truncated in id", false);
  if (!wire::read_i64(r, &c->time_ms)) {
    return (*why = "truncated in time", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, RemoveNode* c, std::string* why) {
  if (!wire::read_string(r, &c->id)) return (*why = "truncated in id", false);
  return true;
}

bool decode_body(raft::ByteReader* r, SetLabels* c, std::string* why) {
  if (!wire::read_string(r, &c->id)) return (*why = "truncated in id", false);
  if (!wire::read_labels(r, &c->set, why)) return false;
  std::uint32_t n = 0;
  if (!r->u32(&n)) return (*why = "truncated in remove count", false);
  // Each key takes at least its 4-byte length: no allocation beyond the
  // bytes that are there.
  if (n > r->remaining() / 4) {
    return (*why = "truncated in remove: count " + std::to_string(n), false);
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string key;
    if (!wire::read_string(r, &key)) {
      return (*why = "truncated in remove key", false);
    }
    if (!c->remove.empty() && !(c->remove.back() < key)) {
      return (*why = "remove keys not strictly ascending", false);
    }
    c->remove.push_back(std::move(key));
  }
  return true;
}

// Decodes alternative I of Command when `type` names it, else tries I + 1.
template <std::size_t I = 0>
Result<Command> decode_alternative(std::uint8_t type, raft::ByteReader* r) {
  if constexpr (I == std::variant_size_v<Command>) {
    return bad("unknown command type " + std::to_string(type));
  } else {
    if (type != I + 1) return decode_alternative<I + 1>(type, r);
    std::variant_alternative_t<I, Command> c;
    std::string why;
    if (!decode_body(r, &c, &why)) {
      return bad(std::string(to_string(static_cast<CommandType>(type))) + ": " +
                 why);
    }
    return Command(std::move(c));
  }
}

}  // namespace

std::string encode_command(const Command& c) {
  std::string out;
  raft::put_u8(&out, kCommandFormatVersion);
  raft::put_u8(&out, static_cast<std::uint8_t>(command_type(c)));
  std::visit([&out](const auto& body) { encode_body(&out, body); }, c);
  return out;
}

Result<Command> decode_command(std::string_view bytes) {
  raft::ByteReader r(bytes);
  std::uint8_t version = 0;
  if (!r.u8(&version)) return bad("empty");
  if (version != kCommandFormatVersion) {
    return bad("unknown format version " + std::to_string(version) +
               " (this build supports 1)");
  }
  std::uint8_t type = 0;
  if (!r.u8(&type)) return bad("truncated in command type");
  NW_ASSIGN_OR_RETURN(Command c, decode_alternative(type, &r));
  if (!r.done()) {
    return bad("trailing bytes after the command: " +
               std::to_string(r.remaining()));
  }
  return c;
}

}  // namespace nw::controller
