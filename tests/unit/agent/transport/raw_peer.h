#pragma once

#include <cstdint>
#include <string_view>

#include "common/base/units.h"

namespace nw::transport::test {

// A plain POSIX TCP client on 127.0.0.1 for feeding a Transport bytes it
// should refuse (no Asio in the tests: compile time).
//
// Lifecycle: connects in the constructor, closes in the destructor.
// Threads: one test thread.
class RawPeer {
 public:
  explicit RawPeer(std::uint16_t port);
  ~RawPeer();
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Writes all of `bytes`; false when the other end has closed.
  bool write(std::string_view bytes);
  // Reads and discards until the other end closes the connection; false if
  // it is still open after `timeout`.
  bool wait_closed(Duration timeout);

 private:
  int fd_ = -1;
};

}  // namespace nw::transport::test
