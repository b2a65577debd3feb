#include "common/http/sockets.h"

#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <ctime>
#include <system_error>

namespace nw::http::detail {
namespace {

// "Connection refused" -> "connection refused".
std::string errno_phrase(int err) {
  std::string s = std::generic_category().message(err);
  if (!s.empty()) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct AddrInfo {
  addrinfo* list = nullptr;
  int rc = 0;
  AddrInfo(const HostPort& addr, int flags) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    rc = ::getaddrinfo(addr.host.c_str(), std::to_string(addr.port).c_str(),
                       &hints, &list);
  }
  ~AddrInfo() {
    if (list != nullptr) ::freeaddrinfo(list);
  }
  AddrInfo(const AddrInfo&) = delete;
  AddrInfo& operator=(const AddrInfo&) = delete;
};

// 0 when a connection to ai opens within timeout, else the errno
// (ETIMEDOUT when the timeout passed).
int try_connect(const addrinfo& ai, Duration timeout) {
  Fd fd(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 ai.ai_protocol));
  if (fd.get() < 0) return errno;
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd.get(), POLLOUT, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return ETIMEDOUT;
  if (n < 0) return errno;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return errno;
  }
  return err;
}

}  // namespace

std::string describe_connect_failure(const HostPort& addr, Duration timeout) {
  AddrInfo ai(addr, 0);
  if (ai.rc != 0) {
    return "cannot resolve \"" + addr.host + "\": " + ::gai_strerror(ai.rc);
  }
  int err = 0;
  for (const addrinfo* p = ai.list; p != nullptr; p = p->ai_next) {
    err = try_connect(*p, timeout);
    // The agent may have come up since httplib tried; say what we know.
    if (err == 0) return "connection failed";
  }
  if (err == ETIMEDOUT) {
    return "connection timed out after " + format_duration(timeout);
  }
  return errno_phrase(err);
}

Error bind_error(const HostPort& addr) {
  std::string what = "listen on " + addr.to_string() + ": ";
  AddrInfo ai(addr, AI_PASSIVE);
  if (ai.rc != 0) {
    return Error(
        Code::io_error,
        what + "cannot resolve \"" + addr.host + "\": " + ::gai_strerror(ai.rc),
        "give an address of this machine, such as 127.0.0.1, "
        "0.0.0.0 or ::",
        "http");
  }
  int err = 0;
  for (const addrinfo* p = ai.list; p != nullptr && err == 0; p = p->ai_next) {
    Fd fd(
        ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol));
    if (fd.get() < 0) {
      err = errno;
      break;
    }
    int yes = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd.get(), p->ai_addr, p->ai_addrlen) != 0 ||
        ::listen(fd.get(), 1) != 0) {
      err = errno;
    }
  }
  switch (err) {
    case EADDRINUSE:
      return Error(Code::io_error, what + "address already in use",
                   "another process holds the port: stop it or pick another "
                   "with --api-listen (api.listen)",
                   "http");
    case EACCES:
    case EPERM:
      return Error(Code::io_error, what + "permission denied",
                   "ports below 1024 need root or CAP_NET_BIND_SERVICE: pick "
                   "a port above 1023 with --api-listen (api.listen)",
                   "http");
    case EADDRNOTAVAIL:
      return Error(Code::io_error, what + "address not available",
                   "the host is not an address of this machine: use "
                   "127.0.0.1, 0.0.0.0 or one of its interface addresses in "
                   "--api-listen (api.listen)",
                   "http");
    case 0:
      // The probe bound fine: whatever failed before has gone away.
      return Error(Code::io_error, what + "cannot open the listening socket",
                   "retry; if it persists, check --api-listen (api.listen)",
                   "http");
    default:
      return Error(Code::io_error, what + errno_phrase(err), {}, "http");
  }
}

void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  if (!was_pending_) {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      timespec zero{};
      while (sigtimedwait(&set, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace nw::http::detail
