#pragma once

#include <span>
#include <string_view>

namespace nw::state {

// One step of the state database's schema, applied once, in its own
// transaction, and recorded in schema_migrations.
struct Migration {
  int version;                   // 1, 2, 3, ... without gaps
  std::string_view description;  // recorded; shown in logs
  std::string_view sql;          // one or more statements
};

// Every migration this nwagent knows, in order (migrations.cc). A subsystem
// that needs tables appends the next version there; a migration that has
// shipped is never edited or removed, since databases out there already
// recorded it as applied.
std::span<const Migration> state_migrations();

}  // namespace nw::state
