#pragma once

// Helpers shared by the TOML readers of common/config (the agent's config
// file and job files). Internal to this module: it includes toml++, which
// no other module sees (STYLE.md, one wrapper per library).

#include <toml++/toml.h>
#include <string>

namespace nw::config {

// A TOML value as the "got ..." part of an error: `string "8"`,
// `integer 8`, `float 1.5`, `boolean true`, `table`, `array`, `date`,
// `time`, `date-time`.
std::string describe_toml(const toml::node& node);

}  // namespace nw::config
