#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace nw::state {

// The agent's data directory (--data-dir): the one place it keeps state on
// disk, locked so that two agents never share it.
//
// On-disk format (version 1):
//   VERSION    the format version as decimal text, "1\n"
//   LOCK       flock(2)ed by the agent that holds the directory; holds its
//              pid as decimal text, for the error message of the next one
//   node_id    this node's id, e.g. "nw-1a2b3c4d\n"; written once
//   state.db   the local SQLite database (StateDb), with -wal and -shm
// Later subsystems add their own files and folders; path_of() names them.
//
// Crash behaviour: VERSION and node_id are written atomically (temporary
// file, fsync, rename, fsync of the directory), so a crash leaves either
// no file or the whole file, never a torn one; a leftover *.tmp is
// overwritten by the next start. LOCK is the exception: the lock lives on
// its inode, so it is rewritten in place; its pid is only informational.
// The kernel drops the lock when the process dies, so no stale lock needs
// cleaning up after a crash, and LOCK is never deleted (deleting it would
// let two agents lock two different inodes of the same name).
//
// Lifecycle: open() creates or checks the folder and takes the lock; the
// lock is held until the DataDir is destroyed. Move-only.
// Threads: open() on one thread; afterwards the accessors are immutable
// and safe from any thread.
class DataDir {
 public:
  // The newest on-disk format this code reads and writes.
  static constexpr int kFormatVersion = 1;

  // Opens the data directory at `path`, creating it (and its parents) if
  // missing, and takes its lock. On the first start the node id is
  // `wanted_node_id`, or a generated "nw-" + 8 hex digits if that is empty;
  // later starts read the stored one.
  // Errors:
  //   invalid_argument     empty path, or a malformed wanted_node_id
  //   failed_precondition  path is not a directory; a non-empty folder that
  //                        is not a Nightwatch data directory; a newer
  //                        format version; locked by another nwagent (its
  //                        pid in the message); stored node id differs
  //                        from a non-empty wanted_node_id
  //   corruption           VERSION or node_id unreadable
  //   io_error             the file system failed (permissions, disk full)
  // Every user-fixable error carries a hint.
  static Result<DataDir> open(const std::string& path,
                              std::string_view wanted_node_id);

  DataDir(DataDir&& other) noexcept;
  DataDir& operator=(DataDir&& other) noexcept;
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;
  // Releases the lock (closes the LOCK descriptor).
  ~DataDir();

  // The directory as given to open(), without a trailing slash.
  const std::string& path() const { return path_; }
  const std::string& node_id() const { return node_id_; }
  // "<path>/<name>", e.g. path_of("state.db").
  std::string path_of(std::string_view name) const;

  // Whether `id` may be a node id: 1-63 ASCII letters, digits, '.', '_' or
  // '-', starting with a letter or digit.
  static bool valid_node_id(std::string_view id);
  // "nw-" + 8 lowercase hex digits from std::random_device.
  static std::string generate_node_id();

 private:
  DataDir(std::string path, int lock_fd);

  Status check_version();
  Status load_node_id(std::string_view wanted);

  std::string path_;
  std::string node_id_;
  int lock_fd_ = -1;  // -1 once moved from
};

}  // namespace nw::state
