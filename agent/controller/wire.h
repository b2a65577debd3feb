#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/controller/job_record.h"
#include "agent/controller/node_record.h"
#include "agent/raft/byte_io.h"

// Field encodings shared by the command codec and the snapshot (internal to
// agent/controller). Strings are a u32 length then the bytes; labels a u32
// count then (key, value) string pairs with keys strictly ascending; a
// string list a u32 count then the strings; a list of replica lists a u32
// count then the string lists.
// Readers return false on truncation or a non-canonical value and leave
// the reason in *why (read_string and read_i64 only return false: their
// callers name the field). A count is checked against the bytes left before
// anything is allocated for it. Pure functions; safe from any thread.
namespace nw::controller::wire {

void put_string(std::string* out, std::string_view s);
void put_labels(std::string* out,
                const std::map<std::string, std::string>& labels);
void put_i64(std::string* out, std::int64_t v);
void put_strings(std::string* out, const std::vector<std::string>& list);
void put_replica_lists(std::string* out,
                       const std::vector<std::vector<std::string>>& lists);

bool read_string(raft::ByteReader* r, std::string* s);
bool read_labels(raft::ByteReader* r,
                 std::map<std::string, std::string>* labels, std::string* why);
bool read_role(raft::ByteReader* r, NodeRecord::Role* role, std::string* why);
bool read_state(raft::ByteReader* r, NodeRecord::State* state,
                std::string* why);
bool read_i64(raft::ByteReader* r, std::int64_t* v);
// A RunRecord::State as a u8 (dispatched 0 .. lost 6).
bool read_run_state(raft::ByteReader* r, RunRecord::State* state,
                    std::string* why);
// `what` names the list in *why ("replicas", ...).
bool read_strings(raft::ByteReader* r, std::vector<std::string>* list,
                  std::string_view what, std::string* why);
bool read_replica_lists(raft::ByteReader* r,
                        std::vector<std::vector<std::string>>* lists,
                        std::string* why);

}  // namespace nw::controller::wire
