#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

// Small, crash-safe file operations for the data directory's metadata
// files. Stateless; safe from any thread (concurrent writers of the same
// file must be serialized by the caller, which DataDir's lock does).
namespace nw::state {

// Replaces <dir>/<name> with `content` so that after a crash the file holds
// either the old or the new content, never a mix: writes <name>.tmp,
// fsyncs it, renames it over <name>, then fsyncs <dir>.
// io_error (with the path and the system's reason) if any step fails; the
// temporary file is removed then.
Status write_file_atomically(const std::string& dir, std::string_view name,
                             std::string_view content);

// The content of `path`, or nullopt if it does not exist. io_error otherwise.
Result<std::optional<std::string>> read_file_if_exists(const std::string& path);

// fsync(2) on a directory, so that entries created or renamed in it survive
// a crash. io_error on failure.
Status sync_directory(const std::string& dir);

}  // namespace nw::state
