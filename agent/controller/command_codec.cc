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
    case CommandType::create_topic:
      return "create_topic";
    case CommandType::delete_topic:
      return "delete_topic";
    case CommandType::alter_topic:
      return "alter_topic";
    case CommandType::set_partition_replicas:
      return "set_partition_replicas";
    case CommandType::commit_offsets:
      return "commit_offsets";
    case CommandType::delete_group:
      return "delete_group";
    case CommandType::put_job:
      return "put_job";
    case CommandType::delete_job:
      return "delete_job";
    case CommandType::set_job_enabled:
      return "set_job_enabled";
    case CommandType::create_run:
      return "create_run";
    case CommandType::update_run:
      return "update_run";
    case CommandType::record_missed:
      return "record_missed";
    case CommandType::acquire_lock:
      return "acquire_lock";
    case CommandType::renew_lock:
      return "renew_lock";
    case CommandType::release_lock:
      return "release_lock";
    case CommandType::report_runs:
      return "report_runs";
  }
  return "?";
}

CommandType command_type(const Command& c) {
  // Alternative i of Command is CommandType value i + 1 (command.h).
  return static_cast<CommandType>(c.index() + 1);
}

namespace {

constexpr std::uint8_t kUpdateApiAddr = 1;
constexpr std::uint8_t kUpdatePeerAddr = 2;
constexpr std::uint8_t kUpdateLabels = 4;
constexpr std::uint8_t kUpdateKnownBits = 7;

constexpr std::uint8_t kAlterRetentionMs = 1;
constexpr std::uint8_t kAlterRetentionBytes = 2;
constexpr std::uint8_t kAlterSegmentBytes = 4;
constexpr std::uint8_t kAlterSegmentMs = 8;
constexpr std::uint8_t kAlterKnownBits = 15;

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

void encode_body(std::string* out, const CreateTopic& c) {
  wire::put_string(out, c.name);
  wire::put_replica_lists(out, c.partitions);
  wire::put_i64(out, c.retention_ms);
  wire::put_i64(out, c.retention_bytes);
  raft::put_u64(out, c.segment_bytes);
  // Format version 2 only (encode_command).
  if (c.segment_ms != 0) wire::put_i64(out, c.segment_ms);
}

void encode_body(std::string* out, const DeleteTopic& c) {
  wire::put_string(out, c.name);
}

void encode_body(std::string* out, const AlterTopic& c) {
  wire::put_string(out, c.name);
  std::uint8_t present = 0;
  if (c.retention_ms) present |= kAlterRetentionMs;
  if (c.retention_bytes) present |= kAlterRetentionBytes;
  if (c.segment_bytes) present |= kAlterSegmentBytes;
  if (c.segment_ms) present |= kAlterSegmentMs;
  raft::put_u8(out, present);
  if (c.retention_ms) wire::put_i64(out, *c.retention_ms);
  if (c.retention_bytes) wire::put_i64(out, *c.retention_bytes);
  if (c.segment_bytes) raft::put_u64(out, *c.segment_bytes);
  if (c.segment_ms) wire::put_i64(out, *c.segment_ms);
  wire::put_replica_lists(out, c.new_partitions);
}

void encode_body(std::string* out, const SetPartitionReplicas& c) {
  wire::put_string(out, c.topic);
  raft::put_u32(out, c.partition);
  wire::put_strings(out, c.replicas);
  wire::put_strings(out, c.target_replicas);
}

void encode_body(std::string* out, const CommitOffsets& c) {
  wire::put_string(out, c.group);
  raft::put_u32(out, static_cast<std::uint32_t>(c.offsets.size()));
  for (const PartitionOffset& o : c.offsets) {
    wire::put_string(out, o.topic);
    raft::put_u32(out, o.partition);
    raft::put_u64(out, o.offset);
  }
}

void encode_body(std::string* out, const DeleteGroup& c) {
  wire::put_string(out, c.group);
}

void encode_body(std::string* out, const PutJob& c) {
  wire::put_string(out, c.name);
  wire::put_string(out, c.spec_json);
  wire::put_i64(out, c.now_ms);
}

void encode_body(std::string* out, const DeleteJob& c) {
  wire::put_string(out, c.name);
}

void encode_body(std::string* out, const SetJobEnabled& c) {
  wire::put_string(out, c.name);
  raft::put_u8(out, c.enabled ? 1 : 0);
}

void encode_body(std::string* out, const CreateRun& c) {
  wire::put_string(out, c.job);
  wire::put_i64(out, c.slot_ms);
  raft::put_u32(out, c.attempt);
  wire::put_string(out, c.agent);
  raft::put_u32(out, c.shard_index);
  raft::put_u32(out, c.shard_count);
  wire::put_i64(out, c.lease_until_ms);
  wire::put_i64(out, c.now_ms);
  raft::put_u8(out, c.manual ? 1 : 0);
}

void encode_body(std::string* out, const UpdateRun& c) {
  raft::put_u64(out, c.run_id);
  raft::put_u64(out, c.fencing_token);
  raft::put_u8(out, static_cast<std::uint8_t>(c.state));
  raft::put_u32(out, static_cast<std::uint32_t>(c.exit_code));
  wire::put_string(out, c.reason);
  wire::put_i64(out, c.started_ms);
  wire::put_i64(out, c.ended_ms);
  wire::put_i64(out, c.lease_until_ms);
}

void encode_body(std::string* out, const RecordMissed& c) {
  wire::put_string(out, c.job);
  wire::put_i64(out, c.slot_ms);
  wire::put_string(out, c.reason);
}

void encode_body(std::string* out, const AcquireLock& c) {
  wire::put_string(out, c.name);
  wire::put_string(out, c.holder);
  wire::put_i64(out, c.ttl_ms);
  wire::put_i64(out, c.now_ms);
}

void encode_body(std::string* out, const RenewLock& c) {
  wire::put_string(out, c.name);
  wire::put_string(out, c.holder);
  raft::put_u64(out, c.token);
  wire::put_i64(out, c.now_ms);
  wire::put_i64(out, c.ttl_ms);
}

void encode_body(std::string* out, const ReportRuns& c) {
  raft::put_u32(out, static_cast<std::uint32_t>(c.updates.size()));
  for (const UpdateRun& u : c.updates) encode_body(out, u);
}

void encode_body(std::string* out, const ReleaseLock& c) {
  wire::put_string(out, c.name);
  wire::put_string(out, c.holder);
  raft::put_u64(out, c.token);
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

bool decode_body(raft::ByteReader* r, CreateTopic* c, std::string* why) {
  if (!wire::read_string(r, &c->name)) {
    return (*why = "truncated in name", false);
  }
  if (!wire::read_replica_lists(r, &c->partitions, why)) return false;
  if (!wire::read_i64(r, &c->retention_ms)) {
    return (*why = "truncated in retention ms", false);
  }
  if (!wire::read_i64(r, &c->retention_bytes)) {
    return (*why = "truncated in retention bytes", false);
  }
  if (!r->u64(&c->segment_bytes)) {
    return (*why = "truncated in segment bytes", false);
  }
  return true;
}

// Format version 2: version 1's body, then the segment ms (never 0: a
// create_topic without it is written as version 1).
bool decode_create_topic_v2(raft::ByteReader* r, CreateTopic* c,
                            std::string* why) {
  if (!decode_body(r, c, why)) return false;
  if (!wire::read_i64(r, &c->segment_ms)) {
    return (*why = "truncated in segment ms", false);
  }
  if (c->segment_ms == 0) {
    return (*why = "segment ms 0 in format version 2", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, DeleteTopic* c, std::string* why) {
  if (!wire::read_string(r, &c->name)) {
    return (*why = "truncated in name", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, AlterTopic* c, std::string* why) {
  if (!wire::read_string(r, &c->name)) {
    return (*why = "truncated in name", false);
  }
  std::uint8_t present = 0;
  if (!r->u8(&present)) return (*why = "truncated in field flags", false);
  if ((present & ~kAlterKnownBits) != 0) {
    return (*why = "reserved field flag bits set", false);
  }
  if ((present & kAlterRetentionMs) != 0) {
    c->retention_ms.emplace();
    if (!wire::read_i64(r, &*c->retention_ms)) {
      return (*why = "truncated in retention ms", false);
    }
  }
  if ((present & kAlterRetentionBytes) != 0) {
    c->retention_bytes.emplace();
    if (!wire::read_i64(r, &*c->retention_bytes)) {
      return (*why = "truncated in retention bytes", false);
    }
  }
  if ((present & kAlterSegmentBytes) != 0) {
    c->segment_bytes.emplace();
    if (!r->u64(&*c->segment_bytes)) {
      return (*why = "truncated in segment bytes", false);
    }
  }
  if ((present & kAlterSegmentMs) != 0) {
    c->segment_ms.emplace();
    if (!wire::read_i64(r, &*c->segment_ms)) {
      return (*why = "truncated in segment ms", false);
    }
  }
  return wire::read_replica_lists(r, &c->new_partitions, why);
}

bool decode_body(raft::ByteReader* r, SetPartitionReplicas* c,
                 std::string* why) {
  if (!wire::read_string(r, &c->topic)) {
    return (*why = "truncated in topic", false);
  }
  if (!r->u32(&c->partition)) return (*why = "truncated in partition", false);
  return wire::read_strings(r, &c->replicas, "replicas", why) &&
         wire::read_strings(r, &c->target_replicas, "target replicas", why);
}

bool decode_body(raft::ByteReader* r, CommitOffsets* c, std::string* why) {
  if (!wire::read_string(r, &c->group)) {
    return (*why = "truncated in group", false);
  }
  std::uint32_t n = 0;
  if (!r->u32(&n)) return (*why = "truncated in offset count", false);
  // Each offset takes at least 4 + 4 + 8 bytes.
  if (n > r->remaining() / 16) {
    return (*why = "truncated in offsets: count " + std::to_string(n), false);
  }
  c->offsets.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    PartitionOffset o;
    if (!wire::read_string(r, &o.topic) || !r->u32(&o.partition) ||
        !r->u64(&o.offset)) {
      return (*why = "truncated in offset " + std::to_string(i), false);
    }
    c->offsets.push_back(std::move(o));
  }
  return true;
}

bool decode_body(raft::ByteReader* r, DeleteGroup* c, std::string* why) {
  if (!wire::read_string(r, &c->group)) {
    return (*why = "truncated in group", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, PutJob* c, std::string* why) {
  if (!wire::read_string(r, &c->name)) {
    return (*why = "truncated in name", false);
  }
  if (!wire::read_string(r, &c->spec_json)) {
    return (*why = "truncated in spec", false);
  }
  if (!wire::read_i64(r, &c->now_ms)) {
    return (*why = "truncated in now", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, DeleteJob* c, std::string* why) {
  if (!wire::read_string(r, &c->name)) {
    return (*why = "truncated in name", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, SetJobEnabled* c, std::string* why) {
  if (!wire::read_string(r, &c->name)) {
    return (*why = "truncated in name", false);
  }
  std::uint8_t v = 0;
  if (!r->u8(&v)) return (*why = "truncated in enabled", false);
  if (v > 1) return (*why = "enabled " + std::to_string(v), false);
  c->enabled = v == 1;
  return true;
}

bool decode_body(raft::ByteReader* r, CreateRun* c, std::string* why) {
  if (!wire::read_string(r, &c->job)) {
    return (*why = "truncated in job", false);
  }
  if (!wire::read_i64(r, &c->slot_ms)) {
    return (*why = "truncated in slot", false);
  }
  if (!r->u32(&c->attempt)) return (*why = "truncated in attempt", false);
  if (!wire::read_string(r, &c->agent)) {
    return (*why = "truncated in agent", false);
  }
  if (!r->u32(&c->shard_index) || !r->u32(&c->shard_count)) {
    return (*why = "truncated in shard", false);
  }
  if (!wire::read_i64(r, &c->lease_until_ms)) {
    return (*why = "truncated in lease", false);
  }
  if (!wire::read_i64(r, &c->now_ms)) {
    return (*why = "truncated in now", false);
  }
  std::uint8_t manual = 0;
  if (!r->u8(&manual)) return (*why = "truncated in manual", false);
  if (manual > 1) return (*why = "manual flag out of range", false);
  c->manual = manual == 1;
  return true;
}

bool decode_body(raft::ByteReader* r, UpdateRun* c, std::string* why) {
  if (!r->u64(&c->run_id)) return (*why = "truncated in run id", false);
  if (!r->u64(&c->fencing_token)) {
    return (*why = "truncated in fencing token", false);
  }
  if (!wire::read_run_state(r, &c->state, why)) return false;
  std::uint32_t exit_code = 0;
  if (!r->u32(&exit_code)) return (*why = "truncated in exit code", false);
  c->exit_code = static_cast<std::int32_t>(exit_code);  // two's complement
  if (!wire::read_string(r, &c->reason)) {
    return (*why = "truncated in reason", false);
  }
  if (!wire::read_i64(r, &c->started_ms) || !wire::read_i64(r, &c->ended_ms) ||
      !wire::read_i64(r, &c->lease_until_ms)) {
    return (*why = "truncated in times", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, RecordMissed* c, std::string* why) {
  if (!wire::read_string(r, &c->job)) {
    return (*why = "truncated in job", false);
  }
  if (!wire::read_i64(r, &c->slot_ms)) {
    return (*why = "truncated in slot", false);
  }
  if (!wire::read_string(r, &c->reason)) {
    return (*why = "truncated in reason", false);
  }
  return true;
}

// The name and holder that start every lock command.
bool decode_lock_names(raft::ByteReader* r, std::string* name,
                       std::string* holder, std::string* why) {
  if (!wire::read_string(r, name)) return (*why = "truncated in name", false);
  if (!wire::read_string(r, holder)) {
    return (*why = "truncated in holder", false);
  }
  return true;
}

bool decode_body(raft::ByteReader* r, AcquireLock* c, std::string* why) {
  if (!decode_lock_names(r, &c->name, &c->holder, why)) return false;
  if (!wire::read_i64(r, &c->ttl_ms)) return (*why = "truncated in ttl", false);
  if (!wire::read_i64(r, &c->now_ms)) return (*why = "truncated in now", false);
  return true;
}

bool decode_body(raft::ByteReader* r, RenewLock* c, std::string* why) {
  if (!decode_lock_names(r, &c->name, &c->holder, why)) return false;
  if (!r->u64(&c->token)) return (*why = "truncated in token", false);
  if (!wire::read_i64(r, &c->now_ms)) return (*why = "truncated in now", false);
  if (!wire::read_i64(r, &c->ttl_ms)) return (*why = "truncated in ttl", false);
  return true;
}

bool decode_body(raft::ByteReader* r, ReleaseLock* c, std::string* why) {
  if (!decode_lock_names(r, &c->name, &c->holder, why)) return false;
  if (!r->u64(&c->token)) return (*why = "truncated in token", false);
  return true;
}

bool decode_body(raft::ByteReader* r, ReportRuns* c, std::string* why) {
  std::uint32_t n = 0;
  if (!r->u32(&n)) return (*why = "truncated in count", false);
  // An update takes at least 8 + 8 + 1 + 4 + 4 + 3 * 8 bytes.
  if (n > kMaxReportRuns || n > r->remaining() / 49) {
    return (*why = "count " + std::to_string(n) + " out of range", false);
  }
  c->updates.resize(n);
  for (UpdateRun& u : c->updates) {
    if (!decode_body(r, &u, why)) return false;
  }
  return true;
}

// Decodes alternative I of Command when `type` names it, else tries I + 1.
template <std::size_t I = 0>
Result<Command> decode_alternative(std::uint8_t version, std::uint8_t type,
                                   raft::ByteReader* r) {
  if constexpr (I == std::variant_size_v<Command>) {
    return bad("unknown command type " + std::to_string(type));
  } else {
    if (type != I + 1) return decode_alternative<I + 1>(version, type, r);
    using T = std::variant_alternative_t<I, Command>;
    T c;
    std::string why;
    bool ok = false;
    if constexpr (std::is_same_v<T, CreateTopic>) {
      ok = version == kCreateTopicSegmentMsVersion
               ? decode_create_topic_v2(r, &c, &why)
               : decode_body(r, &c, &why);
    } else if (version != kCommandFormatVersion) {
      why = "format version " + std::to_string(version) +
            " is only for create_topic";
    } else {
      ok = decode_body(r, &c, &why);
    }
    if (!ok) {
      return bad(std::string(to_string(static_cast<CommandType>(type))) + ": " +
                 why);
    }
    return Command(std::move(c));
  }
}

}  // namespace

std::string encode_command(const Command& c) {
  std::string out;
  const auto* create = std::get_if<CreateTopic>(&c);
  raft::put_u8(&out, create != nullptr && create->segment_ms != 0
                         ? kCreateTopicSegmentMsVersion
                         : kCommandFormatVersion);
  raft::put_u8(&out, static_cast<std::uint8_t>(command_type(c)));
  std::visit([&out](const auto& body) { encode_body(&out, body); }, c);
  return out;
}

Result<Command> decode_command(std::string_view bytes) {
  raft::ByteReader r(bytes);
  std::uint8_t version = 0;
  if (!r.u8(&version)) return bad("empty");
  if (version != kCommandFormatVersion &&
      version != kCreateTopicSegmentMsVersion) {
    return bad("unknown format version " + std::to_string(version) +
               " (this build supports 1 and 2)");
  }
  std::uint8_t type = 0;
  if (!r.u8(&type)) return bad("truncated in command type");
  NW_ASSIGN_OR_RETURN(Command c, decode_alternative(version, type, &r));
  if (!r.done()) {
    return bad("trailing bytes after the command: " +
               std::to_string(r.remaining()));
  }
  return c;
}

}  // namespace nw::controller
