#include "agent/state/migrations.h"

#include <array>

namespace nw::state {
namespace {

// Append only. PRAGMAs that cannot run inside a transaction (journal_mode,
// foreign_keys) belong in StateDb::open, not here.
constexpr std::array kMigrations{
    Migration{1, "meta key/value table",
              "CREATE TABLE meta ("
              "  key TEXT PRIMARY KEY,"
              "  value TEXT NOT NULL"
              ") WITHOUT ROWID;"},
};

}  // namespace

std::span<const Migration> state_migrations() { return kMigrations; }

}  // namespace nw::state
