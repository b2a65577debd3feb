#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/storage/segment_format.h"
#include "common/base/result.h"

// One segment file as the segment log holds it in memory: its header, a
// compact descriptor of every batch in it, and the sparse index points
// derived from them; plus the small POSIX file helpers the log uses.
// Internal to agent/storage (SegmentLog owns every Segment; all access is
// under SegmentLog's mutex).
namespace nw::storage::detail {

inline constexpr std::string_view kDomain = "storage";

// "storage: cannot <what> <path>: <strerror(err)>".
Error io_error(std::string_view what, const std::string& path, int err);

// An owned file descriptor, closed on destruction. Move-only.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle() { reset(); }
  FileHandle(FileHandle&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileHandle& operator=(FileHandle&& o) noexcept;
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC. Errors: Code::io_error.
Result<FileHandle> open_file(const std::string& path, int flags);
// Reads exactly n bytes at pos (fewer only at the end of the file).
Result<std::string> pread_some(int fd, std::uint64_t pos, std::size_t n,
                               const std::string& path);
// Writes all of data at pos. Errors: Code::io_error.
Status pwrite_all(int fd, std::uint64_t pos, std::string_view data,
                  const std::string& path);
// fdatasync(2). Errors: Code::io_error.
Status sync_data(int fd, const std::string& path);
// Replaces dir/name with content: atomically and durably (write_file_
// atomically) when `durable`, else temp file + rename without syncs.
Status replace_file(const std::string& dir, std::string_view name,
                    std::string_view content, bool durable);
// unlink(2), ignoring a missing file. Errors: Code::io_error.
Status remove_file(const std::string& path);

// One batch of a segment: what term(), batch_offsets(), offset_after(),
// read() and offset_for_time() need without touching the file (40 bytes).
struct EntryMeta {
  std::uint64_t term = 0;
  std::uint64_t base_offset = 0;
  std::uint64_t pos = 0;     // byte position of the batch in the .log
  std::int64_t max_ts = -1;  // the batch's max timestamp; -1: control
  std::uint32_t size = 0;    // the batch's bytes
  std::uint32_t count = 0;   // record count; 0 for a control batch

  bool control() const { return count == 0; }
  std::uint64_t next_offset() const { return base_offset + count; }
  // The size of the raft::Entry this batch stands for (entries() and
  // LogStorage's max_bytes count entry_size(), not the batch).
  std::uint64_t entry_data_size() const;
};

struct Segment {
  SegmentHeader header;
  std::string name;          // "<first index>.log"
  std::uint64_t bytes = 0;   // file size: header + batches
  std::int64_t max_ts = -1;  // over its data batches; -1: none
  std::vector<EntryMeta> entries;
  std::vector<IndexPoint> points;  // the sparse index (derived)
  FileHandle fd;                   // O_RDWR, for pread and the active pwrite

  std::uint64_t first_index() const { return header.first_index; }
  // first_index() - 1 when empty.
  std::uint64_t last_index() const {
    return header.first_index + entries.size() - 1;
  }
  bool holds(std::uint64_t i) const {
    return i >= first_index() && i - first_index() < entries.size();
  }
  const EntryMeta& at(std::uint64_t i) const {
    return entries[i - first_index()];
  }
  std::uint64_t next_offset() const {
    return entries.empty() ? header.base_offset : entries.back().next_offset();
  }

  // Adds a batch written at e.pos (bytes grows to its end), and its index
  // point when it is one (docs/formats/segment.md, "Sparse indexes").
  void push(const EntryMeta& e, std::uint32_t interval);
  // Keeps the first `keep` batches (bytes shrinks to their end).
  void truncate(std::size_t keep, std::uint32_t interval);

  // The whole .index / .timeindex content the points imply.
  std::string offset_index_bytes() const;
  std::string time_index_bytes() const;
  // Rewrites both index files (not synced: they are derived).
  Status write_index_files(const std::string& dir) const;
  // Appends the points from `from` on to both index files.
  Status append_index_files(const std::string& dir, std::size_t from) const;
  // Removes the segment's three files.
  Status remove_files(const std::string& dir) const;
};

}  // namespace nw::storage::detail
