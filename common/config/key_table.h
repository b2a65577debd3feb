#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/config/config.h"

// Internal to common/config: the per-key behaviour behind keys(). Not
// included outside this folder.
namespace nw::config::detail {

// Which TOML value types a key accepts.
enum class TomlKind {
  string,         // a TOML string, parsed by KeyOps::set
  integer,        // a TOML integer
  string_or_int,  // sizes: "16MiB" or a byte count
  string_list,    // "a,b" or ["a", "b"] (set gets the items joined by ',')
};

// One key: its documentation and how to read, write and check it. The
// errors of set and check carry only the detail ("expected host:port, got
// \"x\""); callers put the source and the key or flag in front.
struct KeyOps {
  KeyInfo info;
  TomlKind kind;
  // Parses `text` into the field. Integers and sizes from TOML arrive as
  // their decimal text.
  Status (*set)(AgentConfig& cfg, std::string_view text);
  // The field as text, spelled like info.default_text.
  std::string (*get)(const AgentConfig& cfg);
  // Range check of the field's current value.
  Status (*check)(const AgentConfig& cfg);
};

// Every key, in keys() order.
const std::vector<KeyOps>& key_ops();
// By dotted key only (what a TOML file names); nullptr if unknown.
const KeyOps* find_ops(std::string_view key);
// The tables of the file ("log", "api").
const std::vector<std::string>& table_names();

// `text` in double quotes, with JSON (= TOML basic string) escapes.
std::string quoted(std::string_view text);

// Levenshtein distance, for did-you-mean suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The single candidate within edit distance 2 of `name` that is closer than
// every other; empty if none or a tie.
std::string closest(std::string_view name,
                    const std::vector<std::string>& candidates);

// The hint every user-caused config error carries.
inline constexpr std::string_view kDocsHint =
    "see man nightwatch.toml or examples/agent.toml for every key";

}  // namespace nw::config::detail
