#include "agent/controller/wire.h"

#include <string>
#include <utility>

// The shared field encodings of wire.h (docs/formats/controller-commands.md,
// "Common field encodings").
namespace nw::controller::wire {

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

void put_i64(std::string* out, std::int64_t v) {
  raft::put_u64(out, static_cast<std::uint64_t>(v));  // two's complement
}

void put_strings(std::string* out, const std::vector<std::string>& list) {
  raft::put_u32(out, static_cast<std::uint32_t>(list.size()));
  for (const std::string& s : list) put_string(out, s);
}

void put_replica_lists(std::string* out,
                       const std::vector<std::vector<std::string>>& lists) {
  raft::put_u32(out, static_cast<std::uint32_t>(lists.size()));
  for (const auto& list : lists) put_strings(out, list);
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

bool read_run_state(raft::ByteReader* r, RunRecord::State* state,
                    std::string* why) {
  std::uint8_t v = 0;
  if (!r->u8(&v)) {
    *why = "truncated in run state";
    return false;
  }
  if (v > static_cast<std::uint8_t>(RunRecord::State::lost)) {
    *why = "unknown run state " + std::to_string(v);
    return false;
  }
  *state = static_cast<RunRecord::State>(v);
  return true;
}

bool read_i64(raft::ByteReader* r, std::int64_t* v) {
  std::uint64_t raw = 0;
  if (!r->u64(&raw)) return false;
  *v = static_cast<std::int64_t>(raw);  // two's complement (C++20)
  return true;
}

bool read_strings(raft::ByteReader* r, std::vector<std::string>* list,
                  std::string_view what, std::string* why) {
  std::uint32_t n = 0;
  if (!r->u32(&n)) {
    *why = "truncated in " + std::string(what) + " count";
    return false;
  }
  // Each string takes at least its 4-byte length.
  if (n > r->remaining() / 4) {
    *why = "truncated in " + std::string(what) + ": count " + std::to_string(n);
    return false;
  }
  list->clear();
  list->reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string s;
    if (!read_string(r, &s)) {
      *why = "truncated in " + std::string(what) + " " + std::to_string(i);
      return false;
    }
    list->push_back(std::move(s));
  }
  return true;
}

bool read_replica_lists(raft::ByteReader* r,
                        std::vector<std::vector<std::string>>* lists,
                        std::string* why) {
  std::uint32_t n = 0;
  if (!r->u32(&n)) {
    *why = "truncated in partition count";
    return false;
  }
  // Each list takes at least its 4-byte count.
  if (n > r->remaining() / 4) {
    *why = "truncated in partitions: count " + std::to_string(n);
    return false;
  }
  lists->clear();
  lists->reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::vector<std::string> list;
    const std::string what = "partition " + std::to_string(i) + " replicas";
    if (!read_strings(r, &list, what, why)) return false;
    lists->push_back(std::move(list));
  }
  return true;
}

}  // namespace nw::controller::wire
