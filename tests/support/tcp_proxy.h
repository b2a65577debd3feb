#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/base/net.h"
#include "common/base/result.h"

namespace nw::testsupport {

// A TCP proxy for fault injection in integration tests: it listens on
// 127.0.0.1 (a port of its own) and forwards each accepted connection to
// one target address, byte for byte in both directions. A test puts one in
// front of an agent's peer port (the agent advertises the proxy's address)
// and then cuts links without touching the agent:
//   - cut() closes every forwarded connection and refuses new ones (they
//     are accepted and closed at once) until heal();
//   - block_source(ip) does the same only for connections whose client IP
//     is `ip` (with agents bound to distinct 127.0.0.x addresses, that is
//     one agent's traffic), until unblock_source(ip).
// When either end of a forwarded connection closes, the bytes already read
// from it are delivered to the other end, then both are closed.
//
// Lifecycle: start() binds, listens and starts the thread; stop() (also run
// by the destructor) closes everything and joins. Not restartable.
// Threads: one thread of its own runs a poll() loop over the listening
// socket, every forwarded connection and a wake-up pipe. The public methods
// may be called from any thread; cut(), heal(), block_source() and
// unblock_source() return once the loop has applied them, so a connection
// the change closes is closed by then.
class TcpProxy {
 public:
  // Starts a proxy on 127.0.0.1:0 to `target` (an IP address or a name,
  // resolved now). Errors: invalid_argument (target cannot be resolved),
  // io_error (no socket, pipe or thread).
  static Result<std::unique_ptr<TcpProxy>> start(HostPort target);

  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Where clients connect: 127.0.0.1 and the proxy's port.
  HostPort addr() const { return HostPort{"127.0.0.1", port_}; }
  std::uint16_t port() const { return port_; }
  const HostPort& target() const { return target_; }

  // Closes every forwarded connection and refuses new ones until heal().
  void cut();
  // Accepts and forwards again (sources blocked by block_source() stay
  // blocked).
  void heal();
  // Closes the connections from client IP `ip` ("127.0.0.3") and refuses
  // new ones from it until unblock_source(ip).
  void block_source(const std::string& ip);
  void unblock_source(const std::string& ip);

  // Connections accepted and forwarded (whether or not the target answered).
  std::size_t forwarded() const { return forwarded_.load(); }
  // Connections accepted and closed at once because of cut() or
  // block_source().
  std::size_t refused() const { return refused_.load(); }
  // Forwarded connections open now.
  std::size_t open_connections() const { return open_.load(); }

  // Closes the listening socket and every connection, joins the thread.
  // Idempotent.
  void stop();

 private:
  struct Link;
  TcpProxy(HostPort target, const sockaddr_storage& target_sa,
           socklen_t target_len, int listen_fd, std::uint16_t port, int wake_r,
           int wake_w);

  void run();
  // Runs `change` on the policy under the lock, then waits until the loop
  // has enforced it.
  template <class F>
  void change_policy(F change);
  void wake();

  const HostPort target_;
  const sockaddr_storage target_sa_;  // target_, resolved by start()
  const socklen_t target_len_;
  const std::uint16_t port_;
  int listen_fd_ = -1;  // the loop's; closed by stop()
  int wake_r_ = -1;     // the loop's end of the wake-up pipe
  int wake_w_ = -1;     // written by any thread

  std::mutex mu_;
  std::condition_variable applied_cv_;
  bool cut_ = false;                   // guarded by mu_
  std::set<std::string> blocked_;      // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  std::uint64_t policy_version_ = 0;   // guarded by mu_
  std::uint64_t applied_version_ = 0;  // guarded by mu_; set by the loop
  bool loop_done_ = false;             // guarded by mu_

  std::atomic<std::size_t> forwarded_{0};
  std::atomic<std::size_t> refused_{0};
  std::atomic<std::size_t> open_{0};
  std::thread thread_;
};

}  // namespace nw::testsupport
