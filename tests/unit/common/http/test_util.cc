#include "test_util.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/base/assert.h"

namespace nw::http::testing {

ClosedPort::ClosedPort() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  NW_ASSERT(fd_ >= 0, "socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  NW_ASSERT(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0,
            "bind");
  socklen_t len = sizeof a;
  NW_ASSERT(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0,
            "getsockname");
  port_ = ntohs(a.sin_port);
}

ClosedPort::~ClosedPort() { ::close(fd_); }

void Gate::open() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  cv_.notify_all();
}

bool Gate::is_open() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

bool Gate::wait(Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return open_; });
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

bool wait_until(const std::function<bool()>& predicate, Duration timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  return true;
}

ServerOptions local_options() {
  ServerOptions o;
  o.listen = HostPort{"127.0.0.1", 0};
  o.threads = 4;
  return o;
}

Endpoint local_endpoint(std::uint16_t port) {
  return Endpoint{"http", HostPort{"127.0.0.1", port}};
}

ClientOptions client_options(Duration timeout) {
  ClientOptions o;
  o.timeout = timeout;
  return o;
}

}  // namespace nw::http::testing
