#include "agent/state/data_dir.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/unit/agent/state/temp_dir.h"

namespace nw::state {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::TempDir;
using test::write_file;

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// "nw-" and 8 lowercase hex digits. (Not std::regex: GCC 12 warns inside
// <regex> under -fsanitize=address, which -Werror turns into a failure.)
bool is_generated_id(const std::string& id) {
  if (id.size() != 11 || id.compare(0, 3, "nw-") != 0) return false;
  for (char c : id.substr(3)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_SUITE("state.data_dir") {
  TEST_CASE("open.creates_directory_and_parents") {
    TempDir tmp;
    const std::string path = tmp / "a/b/data";
    auto dir = DataDir::open(path, "");
    REQUIRE_MESSAGE(dir.ok(), dir.error().to_string());
    CHECK(dir->path() == path);
    CHECK(fs::is_directory(path));
    CHECK(read_file(path + "/VERSION") == "1\n");
    CHECK(read_file(path + "/node_id") == dir->node_id() + "\n");
    CHECK(read_file(path + "/LOCK") == std::to_string(::getpid()) + "\n");
    CHECK_FALSE(fs::exists(path + "/VERSION.tmp"));
    CHECK_FALSE(fs::exists(path + "/node_id.tmp"));
  }

  TEST_CASE("open.generated_node_id_has_expected_format") {
    TempDir tmp;
    auto dir = DataDir::open(tmp / "data", "");
    REQUIRE(dir.ok());
    CHECK(is_generated_id(dir->node_id()));
    CHECK(is_generated_id(DataDir::generate_node_id()));
    CHECK_FALSE(is_generated_id("nw-1A2B3C4D"));
    CHECK_FALSE(is_generated_id("nw-1a2b3c4"));
  }

  TEST_CASE("open.reopen_keeps_node_id") {
    TempDir tmp;
    std::string first;
    {
      auto dir = DataDir::open(tmp / "data", "");
      REQUIRE(dir.ok());
      first = dir->node_id();
    }
    auto again = DataDir::open(tmp / "data", "");
    REQUIRE(again.ok());
    CHECK(again->node_id() == first);
  }

  TEST_CASE("open.explicit_node_id_is_stored") {
    TempDir tmp;
    {
      auto dir = DataDir::open(tmp / "data", "node-a");
      REQUIRE(dir.ok());
      CHECK(dir->node_id() == "node-a");
    }
    CHECK(read_file(tmp / "data/node_id") == "node-a\n");
    auto same = DataDir::open(tmp / "data", "node-a");
    REQUIRE(same.ok());
    CHECK(same->node_id() == "node-a");
  }

  TEST_CASE("open.mismatched_node_id_is_refused") {
    TempDir tmp;
    { REQUIRE(DataDir::open(tmp / "data", "node-a").ok()); }
    auto dir = DataDir::open(tmp / "data", "node-b");
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::failed_precondition);
    CHECK(dir.error().message == "data directory " + (tmp / "data").string() +
                                     " belongs to node node-a, not node-b");
    CHECK(contains(dir.error().hint, "node-a"));
    // The refusal released the lock.
    CHECK(DataDir::open(tmp / "data", "").ok());
  }

  TEST_CASE("open.invalid_node_id_is_refused") {
    TempDir tmp;
    auto dir = DataDir::open(tmp / "data", "bad id/../x");
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::invalid_argument);
    CHECK_FALSE(fs::exists(tmp / "data"));
  }

  TEST_CASE("open.second_open_while_locked_is_refused_with_pid") {
    TempDir tmp;
    auto first = DataDir::open(tmp / "data", "");
    REQUIRE(first.ok());
    // flock locks belong to the open file description, so a second open()
    // in the same process conflicts like another process would.
    auto second = DataDir::open(tmp / "data", "");
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == Code::failed_precondition);
    CHECK(second.error().message == "data directory " +
                                        (tmp / "data").string() +
                                        " is in use by another nwagent (pid " +
                                        std::to_string(::getpid()) + ")");
    CHECK(second.error().hint ==
          "stop that agent, or give this one another --data-dir");
  }

  TEST_CASE("open.lock_released_after_destruction") {
    TempDir tmp;
    {
      auto first = DataDir::open(tmp / "data", "");
      REQUIRE(first.ok());
      // Moving keeps the lock with the new owner.
      DataDir moved = std::move(*first);
      CHECK_FALSE(DataDir::open(tmp / "data", "").ok());
    }
    auto again = DataDir::open(tmp / "data", "");
    CHECK_MESSAGE(again.ok(), again.error().to_string());
  }

  TEST_CASE("open.newer_version_is_refused") {
    TempDir tmp;
    fs::create_directories(tmp / "data");
    write_file(tmp / "data/VERSION", "2\n");
    auto dir = DataDir::open(tmp / "data", "");
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::failed_precondition);
    CHECK(dir.error().message ==
          "data directory " + (tmp / "data").string() +
              " has format version 2; this nwagent supports up to 1");
    CHECK(dir.error().hint == "upgrade nwagent");
    CHECK(read_file(tmp / "data/VERSION") == "2\n");
  }

  TEST_CASE("open.unreadable_version_is_corruption") {
    TempDir tmp;
    fs::create_directories(tmp / "data");
    write_file(tmp / "data/VERSION", "one\n");
    auto dir = DataDir::open(tmp / "data", "");
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::corruption);
    CHECK_FALSE(dir.error().hint.empty());
  }

  TEST_CASE("open.foreign_folder_is_refused_untouched") {
    TempDir tmp;
    fs::create_directories(tmp / "home");
    write_file(tmp / "home/notes.txt", "mine");
    auto dir = DataDir::open(tmp / "home", "");
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::failed_precondition);
    CHECK(contains(dir.error().message,
                   "does not look like a Nightwatch data directory"));
    CHECK(contains(dir.error().message, "notes.txt"));
    CHECK_FALSE(dir.error().hint.empty());
    CHECK_FALSE(fs::exists(tmp / "home/LOCK"));
    CHECK_FALSE(fs::exists(tmp / "home/VERSION"));
  }

  TEST_CASE("open.leftovers_of_an_interrupted_first_start_are_accepted") {
    TempDir tmp;
    fs::create_directories(tmp / "data");
    write_file(tmp / "data/LOCK", "");
    write_file(tmp / "data/VERSION.tmp", "1");
    auto dir = DataDir::open(tmp / "data", "node-x");
    REQUIRE_MESSAGE(dir.ok(), dir.error().to_string());
    CHECK(read_file(tmp / "data/VERSION") == "1\n");
  }

  TEST_CASE("open.path_that_is_a_file_is_refused") {
    TempDir tmp;
    write_file(tmp / "file", "x");
    auto dir = DataDir::open(tmp / "file", "");
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::failed_precondition);
    CHECK(contains(dir.error().message, "is not a directory"));
  }

  TEST_CASE("path_of.joins_without_double_slash") {
    TempDir tmp;
    auto dir = DataDir::open(tmp / "data/", "");
    REQUIRE(dir.ok());
    CHECK(dir->path() == tmp / "data");
    CHECK(dir->path_of("state.db") == tmp / "data/state.db");
  }

  TEST_CASE("valid_node_id.rules") {
    CHECK(DataDir::valid_node_id("nw-1a2b3c4d"));
    CHECK(DataDir::valid_node_id("Node_1.eu-west"));
    CHECK_FALSE(DataDir::valid_node_id(""));
    CHECK_FALSE(DataDir::valid_node_id("-x"));
    CHECK_FALSE(DataDir::valid_node_id("a b"));
    CHECK_FALSE(DataDir::valid_node_id("a/b"));
    CHECK_FALSE(DataDir::valid_node_id(std::string(64, 'a')));
  }
}

}  // namespace
}  // namespace nw::state
