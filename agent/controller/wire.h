#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "agent/controller/node_record.h"
#include "agent/raft/byte_io.h"

// Field encodings shared by the command codec and the snapshot (internal to
// agent/controller). Strings are a u32 length then the bytes; labels a u32
// count then (key, value) string pairs with keys strictly ascending.
// Readers return false on truncation or a non-canonical value and leave
// the reason in *why. Pure functions; safe from any thread.
namespace nw::controller::wire {

void put_string(std::string* out, std::string_view s);
void put_labels(std::string* out,
                const std::map<std::string, std::string>& labels);

bool read_string(raft::ByteReader* r, std::string* s);
bool read_labels(raft::ByteReader* r,
                 std::map<std::string, std::string>* labels, std::string* why);
bool read_role(raft::ByteReader* r, NodeRecord::Role* role, std::string* why);
bool read_state(raft::ByteReader* r, NodeRecord::State* state,
                std::string* why);
bool read_i64(raft::ByteReader* r, std::int64_t* v);

}  // namespace nw::controller::wire
