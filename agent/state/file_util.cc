#include "agent/state/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nw::state {
namespace {

constexpr std::string_view kDomain = "state";

Error io_error(std::string_view what, const std::string& path, int err) {
  return Error(Code::io_error,
               std::string(what) + " " + path + ": " + std::strerror(err), {},
               kDomain);
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

}  // namespace

Status sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("cannot fsync directory", dir, err);
  return ok_status();
}

Status write_file_atomically(const std::string& dir, std::string_view name,
                             std::string_view content) {
  const std::string target = dir + "/" + std::string(name);
  const std::string tmp = target + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create", tmp, errno);
  Status s = write_all(fd, content, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = io_error("cannot fsync", tmp, errno);
  if (::close(fd) != 0 && s.ok()) s = io_error("cannot close", tmp, errno);
  if (s.ok() && ::rename(tmp.c_str(), target.c_str()) != 0) {
    s = io_error("cannot rename " + tmp + " to", target, errno);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return sync_directory(dir);
}

Result<std::optional<std::string>> read_file_if_exists(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return io_error("cannot open", path, errno);
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return io_error("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(out));
}

}  // namespace nw::state
