#pragma once

#include <signal.h>

#include <string>

#include "common/base/error.h"
#include "common/base/net.h"
#include "common/base/units.h"

// POSIX helpers for client.cc and server.cc, kept out of the two httplib
// translation units. Internal to nw_http.
namespace nw::http::detail {

// Why a TCP connection to addr cannot be opened, as a phrase for messages:
// "connection refused", "cannot resolve \"nohost\": Name or service not
// known", "connection timed out after 2s". httplib reports only "failed to
// connect", so the client asks again itself when that happens.
std::string describe_connect_failure(const HostPort& addr, Duration timeout);

// The io_error for a listening socket on addr that could not be opened:
// "listen on 127.0.0.1:7070: address already in use", with a hint saying
// what to do. Finds the reason by trying the bind itself.
Error bind_error(const HostPort& addr);

// Blocks SIGPIPE on the calling thread; threads it creates afterwards
// inherit the mask. Writing to a socket the peer closed then fails with
// EPIPE instead of killing the process (httplib does not send with
// MSG_NOSIGNAL).
void block_sigpipe();

// Blocks SIGPIPE on the calling thread for its lifetime, then discards a
// SIGPIPE raised meanwhile and restores the mask, so a client call never
// kills the process nor changes its signal handling.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
};

}  // namespace nw::http::detail
