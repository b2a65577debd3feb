#include "agent/state/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <vector>

#include "agent/state/file_util.h"
#include "common/base/log.h"
#include "common/base/strings.h"

namespace nw::state {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDomain = "state";
constexpr const char* kVersionFile = "VERSION";
constexpr const char* kLockFile = "LOCK";
constexpr const char* kNodeIdFile = "node_id";

const log::Logger kLog("state");

// What a data directory may hold before it has a VERSION file: what a
// first start that crashed part-way leaves, and what a fresh file system
// mounted at the data directory has.
const std::set<std::string, std::less<>>& pre_version_entries() {
  static const auto* names = new std::set<std::string, std::less<>>{
      kLockFile, "VERSION.tmp", kNodeIdFile, "node_id.tmp", "lost+found"};
  return *names;
}

Error error(Code code, std::string message, std::string hint = {}) {
  return Error(code, std::move(message), std::move(hint), kDomain);
}

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Creates `path` and its parents if missing; failed_precondition if it
// exists and is not a directory.
Status ensure_directory(const std::string& path) {
  std::error_code ec;
  bool created = fs::create_directories(path, ec);
  if (ec) {
    if (fs::exists(path) && !fs::is_directory(path)) {
      return error(Code::failed_precondition,
                   "data directory " + path + " is not a directory",
                   "give --data-dir a folder, not a file");
    }
    return error(Code::io_error,
                 "cannot create data directory " + path + ": " + ec.message(),
                 "check that the parent folder exists and is writable by "
                 "this user");
  }
  if (!fs::is_directory(path, ec)) {
    return error(Code::failed_precondition,
                 "data directory " + path + " is not a directory",
                 "give --data-dir a folder, not a file");
  }
  if (created) {
    kLog.info("data directory created", {{"path", path}});
    // Make the new directory's own entry durable.
    fs::path parent = fs::absolute(path, ec).parent_path();
    if (!ec) NW_RETURN_IF_ERROR(sync_directory(parent.string()));
  }
  return ok_status();
}

// Refuses a non-empty folder without VERSION, before anything is written
// into it: --data-dir pointed at the wrong folder must not litter it.
Status check_recognisable(const std::string& path) {
  std::error_code ec;
  if (fs::exists(path + "/" + kVersionFile, ec)) return ok_status();
  std::vector<std::string> foreign;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (pre_version_entries().count(name) == 0) foreign.push_back(name);
  }
  if (ec) {
    return error(Code::io_error,
                 "cannot list data directory " + path + ": " + ec.message());
  }
  if (foreign.empty()) return ok_status();
  std::sort(foreign.begin(), foreign.end());
  if (foreign.size() > 3) {
    foreign.resize(3);
    foreign.push_back("...");
  }
  return error(Code::failed_precondition,
               "data directory " + path +
                   " is not empty and has no VERSION file (it holds " +
                   join(foreign, ", ") +
                   "): it does not look like a Nightwatch data directory",
               "give --data-dir an empty or new folder (nwagent creates it), "
               "or the folder of an existing nwagent");
}

// The pid written in a held LOCK file, or "unknown".
std::string lock_holder(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "unknown";
  std::string_view text = trim(std::string_view(buf, static_cast<size_t>(n)));
  long pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end != text.data() + text.size() || pid <= 0) {
    return "unknown";
  }
  return std::to_string(pid);
}

// Opens and flocks <path>/LOCK and writes our pid into it. The descriptor
// is close-on-exec so that processes the agent starts (job runners) do not
// inherit the lock and keep it after the agent exits.
Result<int> take_lock(const std::string& path) {
  const std::string lock_path = path + "/" + kLockFile;
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return error(Code::io_error,
                 "cannot open " + lock_path + ": " + std::strerror(errno),
                 "check that the data directory is writable by this user");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EWOULDBLOCK) {
      std::string pid = lock_holder(fd);
      ::close(fd);
      return error(Code::failed_precondition,
                   "data directory " + path +
                       " is in use by another nwagent (pid " + pid + ")",
                   "stop that agent, or give this one another --data-dir");
    }
    ::close(fd);
    return error(Code::io_error,
                 "cannot lock " + lock_path + ": " + std::strerror(err),
                 "put the data directory on a local file system that "
                 "supports flock(2)");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
    int err = errno;
    ::close(fd);
    return error(Code::io_error,
                 "cannot write " + lock_path + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

DataDir::DataDir(std::string path, int lock_fd)
    : path_(std::move(path)), lock_fd_(lock_fd) {}

DataDir::DataDir(DataDir&& other) noexcept
    : path_(std::move(other.path_)),
      node_id_(std::move(other.node_id_)),
      lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

DataDir& DataDir::operator=(DataDir&& other) noexcept {
  if (this != &other) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    path_ = std::move(other.path_);
    node_id_ = std::move(other.node_id_);
    lock_fd_ = other.lock_fd_;
    other.lock_fd_ = -1;
  }
  return *this;
}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string DataDir::path_of(std::string_view name) const {
  return path_ + "/" + std::string(name);
}

bool DataDir::valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
      return false;
    }
  }
  return true;
}

std::string DataDir::generate_node_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "nw-%08x", static_cast<unsigned>(rd()));
  return buf;
}

Result<DataDir> DataDir::open(const std::string& path,
                              std::string_view wanted_node_id) {
  if (path.empty()) {
    return error(Code::invalid_argument, "data directory: empty path",
                 "set data_dir in the config file or pass --data-dir");
  }
  if (!wanted_node_id.empty() && !valid_node_id(wanted_node_id)) {
    return error(Code::invalid_argument,
                 "node id \"" + std::string(wanted_node_id) + "\" is not valid",
                 "use 1-63 letters, digits, '.', '_' or '-', starting with "
                 "a letter or digit");
  }
  std::string dir_path = strip_trailing_slashes(path);
  NW_RETURN_IF_ERROR(ensure_directory(dir_path));
  NW_RETURN_IF_ERROR(check_recognisable(dir_path));
  NW_ASSIGN_OR_RETURN(int fd, take_lock(dir_path));
  // From here the DataDir owns the lock; an early return releases it.
  DataDir dir(std::move(dir_path), fd);
  NW_RETURN_IF_ERROR(dir.check_version());
  NW_RETURN_IF_ERROR(dir.load_node_id(wanted_node_id));
  return dir;
}

Status DataDir::check_version() {
  const std::string version_path = path_of(kVersionFile);
  NW_ASSIGN_OR_RETURN(std::optional<std::string> text,
                      read_file_if_exists(version_path));
  if (!text) {
    return write_file_atomically(path_, kVersionFile,
                                 std::to_string(kFormatVersion) + "\n");
  }
  std::string_view v = trim(*text);
  int version = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), version);
  if (ec != std::errc() || end != v.data() + v.size() || version < 1) {
    return error(Code::corruption,
                 "data directory " + path_ + " has an unreadable VERSION file",
                 "it should hold a format version such as \"1\"; restore "
                 "it, or the data directory, from a backup");
  }
  if (version > kFormatVersion) {
    return error(Code::failed_precondition,
                 "data directory " + path_ + " has format version " +
                     std::to_string(version) +
                     "; this nwagent supports up to " +
                     std::to_string(kFormatVersion),
                 "upgrade nwagent");
  }
  return ok_status();
}

Status DataDir::load_node_id(std::string_view wanted) {
  NW_ASSIGN_OR_RETURN(std::optional<std::string> text,
                      read_file_if_exists(path_of(kNodeIdFile)));
  if (text) {
    std::string stored(trim(*text));
    if (!valid_node_id(stored)) {
      return error(Code::corruption,
                   "data directory " + path_ +
                       " has an unreadable node_id "
                       "file",
                   "write this node's id into " + path_of(kNodeIdFile) +
                       ", or restore it from a backup");
    }
    if (!wanted.empty() && wanted != stored) {
      return error(Code::failed_precondition,
                   "data directory " + path_ + " belongs to node " + stored +
                       ", not " + std::string(wanted),
                   "set node_id to " + stored +
                       " (or leave it out), or give this node another "
                       "--data-dir");
    }
    node_id_ = std::move(stored);
    return ok_status();
  }
  std::string id = wanted.empty() ? generate_node_id() : std::string(wanted);
  NW_RETURN_IF_ERROR(write_file_atomically(path_, kNodeIdFile, id + "\n"));
  kLog.info(wanted.empty() ? "node id generated" : "node id stored",
            {{"node_id", id}, {"data_dir", path_}});
  node_id_ = std::move(id);
  return ok_status();
}

}  // namespace nw::state
