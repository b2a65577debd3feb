#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace nw::testsupport {

// A fresh directory for one test, `nw-test-XXXXXX` under $TMPDIR (or /tmp).
//
// Lifecycle: the constructor creates it (mkdtemp); the destructor removes it
// recursively, unless the environment has NW_TEST_KEEP=1, in which case the
// path is printed on stderr and the directory kept for inspection. Objects
// that put files in it (AgentProcess) must be destroyed first: declare the
// TempDir before them. Move-only; a moved-from TempDir removes nothing.
//
// The constructor throws std::runtime_error when the directory cannot be
// made: in a doctest case that becomes a failed test with the message, and a
// test cannot go on without its directory anyway.
//
// Threads: the test thread that made it.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "nw-test-");
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view relative) const {
    return path_ / relative;
  }

  // Writes (replaces) a file under the directory, creating parent
  // directories; returns its absolute path. Throws std::runtime_error when
  // the file cannot be written.
  std::filesystem::path write_file(std::string_view relative,
                                   std::string_view content) const;

 private:
  void remove();

  std::filesystem::path path_;  // empty after a move
};

// The whole content of a file; empty when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace nw::testsupport
