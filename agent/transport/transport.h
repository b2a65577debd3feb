#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
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
  // free port (see Transport::port()). When the host is a literal IP other
  // than 0.0.0.0 or ::, outbound connections leave from that IP too (each
  // socket is bound to it, port 0, before connecting), so peers see this
  // agent's traffic come from its peer address on a multi-homed host; a
  // peer address of another IP family is then unreachable. A name or a
  // wildcard leaves the choice of source address to the kernel.
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

// Called when a peer becomes connected (a connection finished its handshake
// and the peer had none) or stops being connected (its established
// connection closed, or remove_peer()).
using PeerEventHandler =
    std::function<void(const std::string& node_id, bool connected)>;

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
// Seeds. add_seed() dials an address whose node id is not known yet (the
// agent's --join list). A seed is redialed with backoff like a peer until a
// hello answers on it; the hello's node then becomes an announced peer at
// that address (an existing entry keeps its counters and queue) and the seed
// is gone. The connection that resolved it is an ordinary outbound
// connection from then on and follows the duplicate rule above. A hello that
// names any other node on a connection dialed for a known peer is still
// refused, and so is an inbound connection whose hello has this agent's own
// node id (two agents with one node id), but an outbound seed answered by
// this agent's own node id is our own address: the seed is dropped without a
// warning and never dialed again, and the inbound end of that connection is
// recognised by its endpoints and closed quietly as well.
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
// is plenty for Raft traffic. send(), set_peer(), remove_peer(), add_seed(),
// remove_seed(), seeds(), peers() and port() may be called from any thread;
// start(), stop() and set_peer_event_handler() from the owner. Both handlers
// run on the I/O thread without the transport's lock: they must be quick,
// must not block (the Raft host queues the message) and must not call
// stop(); they may call send() and the other calls above. The payload view
// is valid only during the call. A peer's events arrive in order, and its
// connect event before any message of that connection.
class Transport final : public service::Service {
 public:
  using PeerEventHandler = transport::PeerEventHandler;

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

  // Dials `addr` without knowing who listens there (a --join seed). Retried
  // with backoff like a peer until a connection's hello names the node; then
  // the seed is resolved: that node becomes an announced peer with address
  // `addr` (as if set_peer(hello.node_id, addr) had been called; a known
  // peer keeps its entry and gets the new address), and the seed entry
  // disappears. A seed answered by this agent itself (its own address in the
  // join list) is dropped (logged at debug) and never redialed. A no-op for
  // an address that is already a seed, was found to be this agent, or is the
  // address of a known peer, and after stop(). Never blocks.
  void add_seed(HostPort addr);
  // Stops dialing a seed that has not resolved yet (an attempt in progress
  // is closed). Unknown addresses are ignored.
  void remove_seed(const HostPort& addr);
  // The seeds not resolved yet, sorted: "host:port" -> why its last attempt
  // failed ("" if none has failed yet).
  std::vector<std::pair<std::string, std::string>> seeds() const;

  // Sets the handler of peer connect/disconnect events (see the class
  // comment for its threading rules). Not called for the connections that
  // stop() closes.
  // REQUIRES: not started yet (a later call is ignored and logged).
  void set_peer_event_handler(PeerEventHandler h);

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
