#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <system_error>
#include <vector>

namespace nw::testsupport {
namespace {

// Bytes buffered per direction before the proxy stops reading that side.
constexpr std::size_t kMaxBuffered = 256 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;

Error sys_error(const std::string& what) {
  return Error(Code::io_error,
               "tcp proxy: " + what + ": " + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The client IP of an accepted socket, "" when unknown.
std::string ip_of(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
  } else if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

}  // namespace

// One forwarded connection: the accepted client socket and the socket to
// the target. Touched by the loop thread only.
struct TcpProxy::Link {
  int client = -1;
  int upstream = -1;
  std::string client_ip;
  bool connecting = true;  // the non-blocking connect to the target
  std::string to_upstream;
  std::string to_client;
  bool client_eof = false;  // read 0 from the client
  bool upstream_eof = false;
  bool dead = false;  // close both now
};

Result<std::unique_ptr<TcpProxy>> TcpProxy::start(HostPort target) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(target.port);
  if (int rc = ::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &res);
      rc != 0 || res == nullptr) {
    return Error(Code::invalid_argument, "tcp proxy: cannot resolve target " +
                                             target.to_string() + ": " +
                                             ::gai_strerror(rc));
  }
  sockaddr_storage sa{};
  std::memcpy(&sa, res->ai_addr, res->ai_addrlen);
  const auto sa_len = static_cast<socklen_t>(res->ai_addrlen);
  ::freeaddrinfo(res);

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in listen_at{};
  listen_at.sin_family = AF_INET;
  listen_at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  listen_at.sin_port = 0;
  socklen_t len = sizeof listen_at;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&listen_at), sizeof listen_at) !=
          0 ||
      ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&listen_at), &len) != 0) {
    Error e = sys_error("listen on 127.0.0.1:0");
    ::close(fd);
    return e;
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    Error e = sys_error("pipe");
    ::close(fd);
    return e;
  }
  std::unique_ptr<TcpProxy> proxy(new TcpProxy(std::move(target), sa, sa_len,
                                               fd, ntohs(listen_at.sin_port),
                                               pipe_fds[0], pipe_fds[1]));
  try {
    proxy->thread_ = std::thread([p = proxy.get()] { p->run(); });
  } catch (const std::system_error& e) {
    return Error(Code::io_error,
                 std::string("tcp proxy: start its thread: ") + e.what());
  }
  return proxy;
}

TcpProxy::TcpProxy(HostPort target, const sockaddr_storage& target_sa,
                   socklen_t target_len, int listen_fd, std::uint16_t port,
                   int wake_r, int wake_w)
    : target_(std::move(target)),
      target_sa_(target_sa),
      target_len_(target_len),
      port_(port),
      listen_fd_(listen_fd),
      wake_r_(wake_r),
      wake_w_(wake_w) {}

TcpProxy::~TcpProxy() {
  stop();
  close_fd(listen_fd_);
  close_fd(wake_r_);
  close_fd(wake_w_);
}

void TcpProxy::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void TcpProxy::wake() {
  const char b = 1;
  // A full pipe already means a pending wake-up.
  (void)!::write(wake_w_, &b, 1);
}

template <class F>
void TcpProxy::change_policy(F change) {
  std::unique_lock lock(mu_);
  change();
  const std::uint64_t version = ++policy_version_;
  lock.unlock();
  wake();
  lock.lock();
  applied_cv_.wait(lock,
                   [&] { return applied_version_ >= version || loop_done_; });
}

void TcpProxy::cut() {
  change_policy([this] { cut_ = true; });
}

void TcpProxy::heal() {
  change_policy([this] { cut_ = false; });
}

void TcpProxy::block_source(const std::string& ip) {
  change_policy([this, &ip] { blocked_.insert(ip); });
}

void TcpProxy::unblock_source(const std::string& ip) {
  change_policy([this, &ip] { blocked_.erase(ip); });
}

void TcpProxy::run() {
  std::list<Link> links;
  std::vector<pollfd> fds;
  std::vector<Link*> owners;  // per entry of fds: its link, or null
  std::vector<char> chunk(kReadChunk);

  auto close_link = [&](Link& l) {
    close_fd(l.client);
    close_fd(l.upstream);
    l.dead = true;
  };
  // Reads what `from` has into `buf`; false at EOF or error.
  auto pump_in = [&](int from, std::string& buf, bool& eof) {
    const ssize_t n = ::recv(from, chunk.data(), chunk.size(), 0);
    if (n > 0) {
      buf.append(chunk.data(), static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return true;
    }
    eof = true;
    return n == 0;  // an error: drop the link; EOF: flush first
  };
  auto pump_out = [&](int to, std::string& buf) {
    const ssize_t n = ::send(to, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      buf.erase(0, static_cast<std::size_t>(n));
      return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  };

  while (true) {
    // Enforce the policy, and learn whether to stop.
    bool cut = false;
    std::set<std::string> blocked;
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      cut = cut_;
      blocked = blocked_;
    }
    for (Link& l : links) {
      if (cut || blocked.count(l.client_ip) != 0) close_link(l);
    }
    links.remove_if([](const Link& l) { return l.dead; });
    open_ = links.size();
    {
      std::lock_guard lock(mu_);
      // Only what was read above is enforced; a change made meanwhile has
      // woken the pipe and is applied on the next round.
      if (cut == cut_ && blocked == blocked_) {
        applied_version_ = policy_version_;
        applied_cv_.notify_all();
      }
    }

    fds.clear();
    owners.clear();
    fds.push_back({wake_r_, POLLIN, 0});
    owners.push_back(nullptr);
    fds.push_back({listen_fd_, POLLIN, 0});
    owners.push_back(nullptr);
    for (Link& l : links) {
      short up = 0;
      short down = 0;
      if (l.connecting) {
        up = POLLOUT;
      } else {
        if (!l.upstream_eof && l.to_client.size() < kMaxBuffered) up |= POLLIN;
        if (!l.to_upstream.empty()) up |= POLLOUT;
        if (!l.client_eof && l.to_upstream.size() < kMaxBuffered) {
          down |= POLLIN;
        }
        if (!l.to_client.empty()) down |= POLLOUT;
      }
      // A side that has closed and that nothing is waiting for would
      // report POLLHUP on every round: leave it out (a negative fd).
      fds.push_back({up == 0 && l.upstream_eof ? -1 : l.upstream, up, 0});
      owners.push_back(&l);
      fds.push_back({down == 0 && l.client_eof ? -1 : l.client, down, 0});
      owners.push_back(&l);
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;  // cannot happen with valid fds; stop rather than spin
    }
    if (fds[0].revents != 0) {
      char drain[64];
      while (::read(wake_r_, drain, sizeof drain) > 0) {
      }
    }
    if (fds[1].revents != 0) {
      while (true) {
        sockaddr_storage from{};
        socklen_t from_len = sizeof from;
        int c = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from),
                          &from_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) break;  // EAGAIN, or out of fds: try on the next round
        const std::string ip = ip_of(from);
        if (cut || blocked.count(ip) != 0) {
          ::close(c);
          ++refused_;
          continue;
        }
        Link l;
        l.client = c;
        l.client_ip = ip;
        l.upstream = ::socket(target_sa_.ss_family,
                              SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        ++forwarded_;
        if (l.upstream < 0 ||
            (::connect(l.upstream,
                       reinterpret_cast<const sockaddr*>(&target_sa_),
                       target_len_) != 0 &&
             errno != EINPROGRESS)) {
          close_link(l);  // the client sees its connection close
          continue;
        }
        links.push_back(std::move(l));
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      Link& l = *owners[i];
      const short ev = fds[i].revents;
      if (l.dead || ev == 0) continue;
      const bool is_upstream = i % 2 == 0;  // each link: upstream, client
      if (is_upstream && l.connecting) {
        int err = 0;
        socklen_t err_len = sizeof err;
        ::getsockopt(l.upstream, SOL_SOCKET, SO_ERROR, &err, &err_len);
        if (err != 0) {
          close_link(l);
          continue;
        }
        l.connecting = false;
        continue;
      }
      bool ok = true;
      if (is_upstream) {
        if ((ev & POLLOUT) != 0) ok = pump_out(l.upstream, l.to_upstream);
        if (ok && (ev & (POLLIN | POLLHUP | POLLERR)) != 0) {
          ok = pump_in(l.upstream, l.to_client, l.upstream_eof);
        }
      } else {
        if ((ev & POLLOUT) != 0) ok = pump_out(l.client, l.to_client);
        if (ok && (ev & (POLLIN | POLLHUP | POLLERR)) != 0) {
          ok = pump_in(l.client, l.to_upstream, l.client_eof);
        }
      }
      // Closed by one end: done once what it sent has been passed on.
      const bool drained = (l.client_eof && l.to_upstream.empty()) ||
                           (l.upstream_eof && l.to_client.empty());
      if (!ok || drained) close_link(l);
    }
    links.remove_if([](const Link& l) { return l.dead; });
    open_ = links.size();
  }

  for (Link& l : links) close_link(l);
  links.clear();
  open_ = 0;
  close_fd(listen_fd_);
  std::lock_guard lock(mu_);
  loop_done_ = true;
  applied_cv_.notify_all();
}

}  // namespace nw::testsupport
