#include "agent/storage/segment.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/state/file_util.h"
#include "common/records/record_batch.h"

namespace nw::storage::detail {

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error(Code::io_error,
               "storage: cannot " + std::string(what) + " " + path + ": " +
                   std::strerror(err),
               {}, kDomain);
}

FileHandle& FileHandle::operator=(FileHandle&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

void FileHandle::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<FileHandle> open_file(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", path, errno);
  return FileHandle(fd);
}

Result<std::string> pread_some(int fd, std::uint64_t pos, std::size_t n,
                               const std::string& path) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r =
        ::pread(fd, out.data() + got, n - got, static_cast<off_t>(pos + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("read", path, errno);
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

Status pwrite_all(int fd, std::uint64_t pos, std::string_view data,
                  const std::string& path) {
  while (!data.empty()) {
    const ssize_t n =
        ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    pos += static_cast<std::uint64_t>(n);
  }
  return ok_status();
}

Status sync_data(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return io_error("fdatasync", path, errno);
  return ok_status();
}

Status replace_file(const std::string& dir, std::string_view name,
                    std::string_view content, bool durable) {
  if (durable) return state::write_file_atomically(dir, name, content);
  const std::string target = dir + "/" + std::string(name);
  const std::string tmp = target + ".tmp";
  {
    NW_ASSIGN_OR_RETURN(FileHandle f,
                        open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    NW_RETURN_IF_ERROR(pwrite_all(f.get(), 0, content, tmp));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("rename " + tmp + " to", target, err);
  }
  return ok_status();
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return io_error("delete", path, errno);
  }
  return ok_status();
}

std::uint64_t EntryMeta::entry_data_size() const {
  // A control batch stands for an entry holding only its data (none for
  // a no-op): the batch minus the header and the kind byte.
  return control() ? size - records::kHeaderSize - 1 : size;
}

void Segment::push(const EntryMeta& e, std::uint32_t interval) {
  entries.push_back(e);
  bytes = e.pos + e.size;
  if (e.control()) return;
  max_ts = std::max(max_ts, e.max_ts);
  if (points.empty() || e.pos >= points.back().position + interval) {
    points.push_back(IndexPoint{e.base_offset, e.pos, max_ts});
  }
}

void Segment::truncate(std::size_t keep, std::uint32_t interval) {
  std::vector<EntryMeta> kept(entries.begin(),
                              entries.begin() + static_cast<long>(keep));
  entries.clear();
  points.clear();
  max_ts = -1;
  bytes = kSegmentHeaderSize;
  for (const EntryMeta& e : kept) push(e, interval);
}

std::string Segment::offset_index_bytes() const {
  std::string out;
  for (const IndexPoint& p : points) append_offset_entry(&out, p);
  return out;
}

std::string Segment::time_index_bytes() const {
  std::string out;
  for (const IndexPoint& p : points) append_time_entry(&out, p);
  return out;
}

namespace {

std::string sibling(const std::string& dir, const Segment& s,
                    std::string_view suffix) {
  return dir + "/" + segment_file_name(s.first_index(), suffix);
}

Status write_whole(const std::string& path, std::string_view content) {
  NW_ASSIGN_OR_RETURN(FileHandle f,
                      open_file(path, O_WRONLY | O_CREAT | O_TRUNC));
  return pwrite_all(f.get(), 0, content, path);
}

Status append_to(const std::string& path, std::string_view content) {
  NW_ASSIGN_OR_RETURN(FileHandle f,
                      open_file(path, O_WRONLY | O_CREAT | O_APPEND));
  while (!content.empty()) {
    const ssize_t n = ::write(f.get(), content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

}  // namespace

Status Segment::write_index_files(const std::string& dir) const {
  NW_RETURN_IF_ERROR(
      write_whole(sibling(dir, *this, kIndexSuffix), offset_index_bytes()));
  return write_whole(sibling(dir, *this, kTimeIndexSuffix), time_index_bytes());
}

Status Segment::append_index_files(const std::string& dir,
                                   std::size_t from) const {
  if (from >= points.size()) return ok_status();
  std::string offsets, times;
  for (std::size_t k = from; k < points.size(); ++k) {
    append_offset_entry(&offsets, points[k]);
    append_time_entry(&times, points[k]);
  }
  NW_RETURN_IF_ERROR(append_to(sibling(dir, *this, kIndexSuffix), offsets));
  return append_to(sibling(dir, *this, kTimeIndexSuffix), times);
}

Status Segment::remove_files(const std::string& dir) const {
  NW_RETURN_IF_ERROR(remove_file(sibling(dir, *this, kLogSuffix)));
  NW_RETURN_IF_ERROR(remove_file(sibling(dir, *this, kIndexSuffix)));
  return remove_file(sibling(dir, *this, kTimeIndexSuffix));
}

}  // namespace nw::storage::detail
