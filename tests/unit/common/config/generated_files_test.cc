#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/config/config.h"

// The files kept in the repo that are derived from keys(): they must not
// drift from the code.
namespace nw::config {
namespace {

std::string read_source_file(const std::string& relative) {
  std::string path = std::string(NW_SOURCE_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The man page with roff's "\-" and "\&" undone, so keys and flags can be
// searched for as users type them.
std::string man_page_text() {
  std::string roff = read_source_file("man/nightwatch.toml.5");
  std::string out;
  for (size_t i = 0; i < roff.size(); ++i) {
    if (roff[i] == '\\' && i + 1 < roff.size() &&
        (roff[i + 1] == '-' || roff[i + 1] == '&')) {
      if (roff[i + 1] == '-') out += '-';
      ++i;
      continue;
    }
    out += roff[i];
  }
  return out;
}

}  // namespace

TEST_SUITE("config.generated_files") {
  TEST_CASE("example.equals_render_example") {
    std::string committed = read_source_file("examples/agent.toml");
    CHECK_MESSAGE(committed == render_example(),
                  "examples/agent.toml is out of date with "
                  "common/config/key_table.cc: run `make generate`");
  }

  TEST_CASE("example.parses_back_to_defaults") {
    auto r = parse_toml(render_example(), "examples/agent.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(*r == AgentConfig{});
    // Parsing from another base must set every key, not just some.
    AgentConfig other = dev_defaults();
    other.api.threads = 1;
    other.log.level = log::Level::error;
    auto from_other =
        parse_toml(render_example(), "examples/agent.toml", other);
    REQUIRE(from_other.ok());
    CHECK(*from_other == AgentConfig{});
  }

  TEST_CASE("example.documents_every_key") {
    std::string example = render_example();
    for (const KeyInfo& k : keys()) {
      CAPTURE(k.key);
      CHECK(example.find("--" + k.flag) != std::string::npos);
    }
  }

  TEST_CASE("man_page.mentions_every_key_and_flag") {
    std::string man = man_page_text();
    for (const KeyInfo& k : keys()) {
      CAPTURE(k.key);
      CHECK(man.find(k.key) != std::string::npos);
      CHECK(man.find("--" + k.flag) != std::string::npos);
      for (const std::string& alias : k.aliases) {
        CHECK(man.find("--" + alias) != std::string::npos);
      }
    }
  }
}

}  // namespace nw::config
