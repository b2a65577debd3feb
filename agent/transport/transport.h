#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/service/service.h"
#include "common/base/net.h"
#include "common/base/result.h"
#include "common/base/units.h"

namespace nw::metrics {
class Registry;
}

namespace nw::transport {

struct TransportOptions {
  // This agent's node id ("nw-1a2b3c4d"), sent in the hello. Required.
  std::string node_id;
  // Refuse peers whose hello names another cluster. Empty: do not check
  // (nor is this side checked by peers).
  std::string cluster_id;
  // Where to accept peer connections (the agent's --peer); port 0 picks a
  // free port (see Transport::port()).
  HostPort listen{"127.0.0.1", 0};
  // Largest frame (header included) sent or accepted; a longer frame closes
  // the connection. At least kMinMaxFrameSize.
  std::uint32_t max_frame_size = 64u << 20;
  // Per-peer send queue bounds (frames waiting plus frames being written);
  // a send() that would pass either is dropped.
  std::size_t max_queue_bytes = std::size_t{64} << 20;
  std::size_t max_queue_frames = 4096;
  // For TCP connect plus the hello exchange, in both directions.
  Duration connect_timeout = std::chrono::seconds(2);
  // Reconnect delay: doubles from min to max, jittered (backoff.h).
  Duration backoff_min = std::chrono::milliseconds(50);
  Duration backoff_max = std::chrono::seconds(2);
};

// What peers() reports about one peer.
struct PeerInfo {
  std::string node_id;
  std::string address;     // "host:port" to dial, empty if not known
  bool announced = false;  // named by set_peer() (else learned from a hello)
  bool connected = false;  // a connection has finished its handshake
  std::uint64_t frames_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t frames_dropped = 0;  // queue full, too large, lost in flight
  std::uint64_t reconnects = 0;      // dials after the first one
  std::size_t queued_frames = 0;     // waiting or being written
  std::size_t queued_bytes = 0;
  std::string last_error;  // why the last connection or dial ended
};

// Called for every message frame from a connected peer.
using MessageHandler =
    std::function<void(const std::string& from_node, std::uint64_t group,
                       std::string_view payload)>;

// The peer-to-peer link between agents: one TCP connection per pair of
// agents, carrying length-prefixed, CRC-32C-checked frames for every Raft
// group (docs/formats/peer-frames.md). Payloads are opaque bytes.
//
// Connections. Each side sends a hello (protocol version, node id, cluster
// id, listen port) as soon as a connection opens. A connection from an
// unknown node is accepted and registered under the node id of its hello;
// its remote IP and the hello's listen port become the address to dial it
// back. When both sides dial at once, the connection dialed by the smaller
// node id wins on both sides (between two from the same dialer, the newer),
// so exactly one remains. A known peer without a connection is redialed with
// exponential backoff and jitter until remove_peer() or stop().
//
// Backpressure. send() never blocks: it encodes the frame on the caller's
// thread and appends it to the peer's bounded queue, or drops it (counted)
// when the queue is full; Raft retries. Writes gather up to 64 queued frames
// (1 MiB) into one gathered write.
//
// Failure. A malformed frame, bad CRC, unknown type or oversized length
// closes that connection only, logged with the peer and the reason; the
// reader never buffers more than max_frame_size bytes for one frame. Socket
// errors are logged and lead to a reconnect. Boost exceptions never leave
// this class.
//
// Lifecycle: construct, set_peer() any time, start() (binds), stop() (closes
// every connection and joins the I/O thread; idempotent, also run by the
// destructor). A stopped transport is not restarted: make a new one.
// Threads: one I/O thread (an asio::io_context) does all socket work; that
// is plenty for Raft traffic. send(), set_peer(), remove_peer(), peers() and
// port() may be called from any thread; start() and stop() from the owner.
// The handler runs on the I/O thread: it must be quick and must not block
// (the Raft host queues the message) and must not call stop(); it may call
// send(). The payload view is valid only during the call.
class Transport final : public service::Service {
 public:
  // `registry` (optional) outlives the Transport.
  Transport(TransportOptions options, MessageHandler handler,
            metrics::Registry* registry = nullptr);
  ~Transport() override;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  std::string_view name() const override { return "transport"; }
  // Binds the listen address and starts the I/O thread; peers set before
  // start() are dialed now.
  // invalid_argument: bad options. io_error: cannot listen ("listen on
  // HOST:PORT: address already in use", with a hint about --peer).
  // failed_precondition: started before.
  Status start() override;
  // Closes every connection, drops queued frames, joins the I/O thread.
  // Idempotent.
  void stop() override;
  bool running() const override;

  // The bound peer port (the real one when the options said 0); 0 before
  // start().
  std::uint16_t port() const;

  // Adds or updates a peer to dial. A peer without a connection is dialed
  // now (its backoff wait is cut short). An existing connection is kept even
  // if the address changed.
  void set_peer(const std::string& node_id, HostPort addr);
  // Forgets a peer: closes its connection and drops its queue. If it dials
  // in again it is accepted as a new, unannounced peer.
  void remove_peer(const std::string& node_id);

  // Queues `payload` for `group` to `to_node`. Never blocks. false (the
  // message is dropped and counted) when the peer is unknown, the queue is
  // full, the frame would exceed max_frame_size, or the transport stopped.
  // A true return is not delivery: the frame may still be lost with its
  // connection.
  bool send(const std::string& to_node, std::uint64_t group,
            std::string payload);

  // Every known peer, sorted by node id.
  std::vector<PeerInfo> peers() const;
  // Open TCP connections, including those still connecting or in their
  // handshake (for tests and status).
  std::size_t connection_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nw::transport
