// The only translation unit of the transport that includes Boost.Asio
// (compile time: see notes/dependencies.md). Everything here runs on the
// I/O thread unless a comment says otherwise.
#include "agent/transport/transport.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/metrics/registry.h"
#include "agent/transport/backoff.h"
#include "agent/transport/frame.h"
#include "agent/transport/send_queue.h"
#include "common/base/log.h"

namespace nw::transport {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// The read buffer starts at this size (or max_frame_size if smaller) and
// grows only to hold one frame that is larger.
constexpr std::size_t kReadChunk = 64 * 1024;
// One gathered write takes at most this much from the queue.
constexpr std::size_t kMaxBatchFrames = 64;
constexpr std::size_t kMaxBatchBytes = 1 << 20;

const log::Logger kLog("transport");

// "Address already in use" -> "address already in use", for messages of
// the form "what failed: detail".
std::string error_text(const error_code& ec) {
  std::string s = ec.message();
  if (!s.empty()) {
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  }
  return s;
}

std::string ms_text(Duration d) { return std::to_string(d.count()) + "ms"; }

// One TCP connection, inbound or outbound, from connect to close. Shared by
// the pending asynchronous operations that use it, so it lives until the
// last of them has completed.
struct Connection {
  enum class State : std::uint8_t {
    connecting,
    handshaking,
    established,
    closed
  };

  Connection(asio::io_context& io, std::uint64_t conn_id, bool is_outbound)
      : socket(io),
        resolver(io),
        deadline(io),
        id(conn_id),
        outbound(is_outbound) {}

  tcp::socket socket;
  tcp::resolver resolver;       // outbound only
  asio::steady_timer deadline;  // connect plus hello
  const std::uint64_t id;
  const bool outbound;

  // Guarded by Impl::mu_.
  State state = State::connecting;
  std::string node_id;  // outbound: the node dialed; inbound: from its hello
  std::string seed;     // outbound to a seed: its "host:port" until resolved
  std::string remote;   // for logs: "ip:port"
  asio::ip::address remote_ip;
  tcp::endpoint local_end;             // set once the TCP connection is up, to
  tcp::endpoint remote_end;            // recognise a connection to ourselves
  bool writing = false;                // an async_write is in progress
  std::vector<std::string> in_flight;  // the frames it writes (kept alive)
  std::size_t in_flight_bytes = 0;
  bool in_flight_queued = false;  // from the peer's queue (not the hello)

  // Touched by the I/O thread only (never under the lock).
  std::vector<char> rbuf;
  std::size_t rbegin = 0;  // first byte not yet decoded
  std::size_t rend = 0;    // one past the last byte read
};
using ConnPtr = std::shared_ptr<Connection>;

// What the transport knows about one peer. Guarded by Impl::mu_; the asio
// objects in it are touched on the I/O thread only.
struct Peer {
  Peer(std::string id, const TransportOptions& o, std::uint64_t seed)
      : node_id(std::move(id)),
        queue(o.max_queue_frames, o.max_queue_bytes),
        backoff(o.backoff_min, o.backoff_max, seed) {}

  std::string node_id;
  std::optional<HostPort> addr;
  bool announced = false;
  ConnPtr conn;     // the established connection, if any
  ConnPtr dialing;  // our outbound attempt, until it is established
  std::unique_ptr<asio::steady_timer> retry_timer;  // made on the I/O thread
  bool retry_pending = false;
  bool flush_posted = false;  // a write_some() is posted
  bool dialed_before = false;
  SendQueue queue;
  Backoff backoff;
  PeerInfo stats;  // counters and last_error; the rest is filled by peers()

  metrics::Counter* sent_metric = nullptr;
  metrics::Counter* received_metric = nullptr;
  metrics::Counter* reconnects_metric = nullptr;
  metrics::Gauge* connected_metric = nullptr;
};
using PeerPtr = std::shared_ptr<Peer>;

// An address to dial whose node id is not known yet (add_seed()). Guarded
// by Impl::mu_; the timer is touched on the I/O thread only.
struct Seed {
  Seed(HostPort a, const TransportOptions& o, std::uint64_t seed)
      : addr(std::move(a)), backoff(o.backoff_min, o.backoff_max, seed) {}

  HostPort addr;
  ConnPtr dialing;  // the attempt in progress, until its hello arrives
  std::unique_ptr<asio::steady_timer> retry_timer;  // made on the I/O thread
  bool retry_pending = false;
  Backoff backoff;
  std::string last_error;
};
using SeedPtr = std::shared_ptr<Seed>;

}  // namespace

class Transport::Impl {
 public:
  Impl(TransportOptions options, MessageHandler handler,
       metrics::Registry* registry)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        work_(asio::make_work_guard(io_)),
        acceptor_(io_),
        accept_retry_(io_),
        seed_(std::random_device{}()) {
    if (registry != nullptr) {
      m_sent_ = &registry->counter("nw_transport_frames_sent_total",
                                   "Frames written to a peer.", {"peer"});
      m_received_ =
          &registry->counter("nw_transport_frames_received_total",
                             "Message frames received from a peer.", {"peer"});
      m_dropped_ = &registry->counter(
          "nw_transport_frames_dropped_total",
          "Frames not sent: queue_full, too_large, unknown_peer, "
          "connection_lost.",
          {"peer", "reason"});
      m_connected_ = &registry->gauge("nw_transport_connected",
                                      "1 while a peer is connected.", {"peer"});
      m_reconnects_ =
          &registry->counter("nw_transport_reconnects_total",
                             "Dials to a peer after the first one.", {"peer"});
      m_bad_frames_ = &registry->counter(
          "nw_transport_bad_frames_total",
          "Incoming frames that closed their connection.", {"reason"});
    }
  }

  Status start();
  void stop();
  bool running() const { return io_running_.load(); }
  std::uint16_t port() const { return port_.load(); }
  void set_peer(const std::string& node_id, HostPort addr);
  void remove_peer(const std::string& node_id);
  void add_seed(HostPort addr);
  void remove_seed(const HostPort& addr);
  std::vector<std::pair<std::string, std::string>> seeds() const;
  void set_peer_event_handler(PeerEventHandler h);
  bool send(const std::string& to_node, std::uint64_t group,
            std::string payload);
  std::vector<PeerInfo> peers() const;
  std::size_t connection_count() const {
    std::lock_guard lock(mu_);
    return conns_.size();
  }

 private:
  Status validate() const;
  Status listen();
  void run_io();
  void shutdown_io();

  // The functions below run on the I/O thread with mu_ held.
  Peer* find(const std::string& node_id);
  Peer& add_peer(const std::string& node_id);
  void dial(Peer& p);
  void dial_now(const std::string& node_id);
  void schedule_retry(Peer& p);
  Seed* find_seed(const std::string& key);
  void dial_seed(const std::string& key);
  void schedule_seed_retry(const std::string& key, Seed& s);
  void connect(const ConnPtr& c, const HostPort& addr);
  // On a seed's connection whose hello named `node_id`: turns the seed into
  // that peer. false (and closes `c`) when the seed was removed meanwhile.
  bool resolve_seed(const ConnPtr& c, const std::string& node_id);
  // The other end of `c` when this agent dialed itself, else null.
  ConnPtr other_end(const Connection& c) const;
  // For a hello with our own node id on `c`: when `c` is a seed's
  // connection or one end of a connection to ourselves, closes it (and its
  // other end), drops the seed and returns true; false for a connection
  // from another agent that has our node id.
  bool close_self_connection(const ConnPtr& c);
  // Queues a peer event for the handler; posted, so it runs after the
  // lock is released and in order.
  void notify(const std::string& node_id, bool connected);
  void do_accept();
  void begin_session(const ConnPtr& c);
  void write_some(Peer& p);
  void write_frames(const ConnPtr& c, bool from_queue);
  bool on_hello(const ConnPtr& c, std::string_view payload);
  void bad_frame(const ConnPtr& c, FrameDefect defect, const std::string& why);
  // Closes `c`; `failure` records the reason as the peer's last_error and
  // logs it as a warning (duplicates and shutdown are not failures).
  void close_conn(const ConnPtr& c, const std::string& reason,
                  bool failure = true);
  void count_dropped(Peer* p, const std::string& node_id,
                     std::string_view reason, std::size_t n);

  // Completion handlers: called by asio on the I/O thread, lock themselves.
  void on_resolved(const ConnPtr& c, const error_code& ec,
                   const tcp::resolver::results_type& results);
  void on_connected(const ConnPtr& c, const error_code& ec);
  // Opens `socket` for `target` and binds it to source_ip_ (port 0).
  // io_error when that fails (the address is not local any more, say).
  Status bind_source(tcp::socket& socket, const tcp::endpoint& target);
  void on_accept(const error_code& ec, tcp::socket socket);
  void on_write(const ConnPtr& c, const error_code& ec);
  void on_read(const ConnPtr& c, const error_code& ec, std::size_t n);
  void decode_some(const ConnPtr& c);
  void start_read(const ConnPtr& c);

  const TransportOptions options_;
  const MessageHandler handler_;
  // Written under mu_ before start() only; read by the I/O thread after.
  PeerEventHandler peer_event_handler_;

  // Declared first so it is destroyed last: pending handlers own
  // connections whose sockets need it.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;           // I/O thread after start()
  asio::steady_timer accept_retry_;  // I/O thread
  std::thread thread_;               // start() and stop()
  std::atomic<std::uint16_t> port_{0};
  std::atomic<bool> io_running_{false};
  std::string hello_;  // our encoded hello frame; immutable after start()
  // Where outbound connections leave from: the listen address when it is a
  // literal IP that is not a wildcard. Set in listen(); immutable after.
  std::optional<asio::ip::address> source_ip_;

  metrics::CounterFamily* m_sent_ = nullptr;
  metrics::CounterFamily* m_received_ = nullptr;
  metrics::CounterFamily* m_dropped_ = nullptr;
  metrics::GaugeFamily* m_connected_ = nullptr;
  metrics::CounterFamily* m_reconnects_ = nullptr;
  metrics::CounterFamily* m_bad_frames_ = nullptr;

  mutable std::mutex mu_;
  bool started_ = false;                  // guarded by mu_
  bool stopped_ = false;                  // guarded by mu_
  std::map<std::string, PeerPtr> peers_;  // guarded by mu_
  std::map<std::string, SeedPtr> seeds_;  // guarded by mu_; by "host:port"
  std::set<std::string> self_seeds_;      // guarded by mu_: our own address
  std::set<ConnPtr> conns_;               // guarded by mu_: every open one
  std::uint64_t next_conn_id_ = 1;        // guarded by mu_
  std::uint64_t seed_;                    // guarded by mu_
};

// ---- Lifecycle (owner thread) ----

Status Transport::Impl::validate() const {
  auto bad = [](std::string msg) {
    return Error(Code::invalid_argument, "transport options: " + msg, {},
                 "transport");
  };
  if (options_.node_id.empty()) return bad("node_id is empty");
  if (options_.node_id.size() > 0xffff || options_.cluster_id.size() > 0xffff) {
    return bad("node_id or cluster_id longer than 65535 bytes");
  }
  if (options_.max_frame_size < kMinMaxFrameSize) {
    return bad("max_frame_size " + std::to_string(options_.max_frame_size) +
               " is below " + std::to_string(kMinMaxFrameSize));
  }
  if (options_.max_queue_frames == 0 || options_.max_queue_bytes == 0) {
    return bad("max_queue_frames and max_queue_bytes must be positive");
  }
  if (options_.connect_timeout <= Duration::zero()) {
    return bad("connect_timeout must be positive");
  }
  if (options_.backoff_min <= Duration::zero() ||
      options_.backoff_max < options_.backoff_min) {
    return bad("need 0 < backoff_min <= backoff_max");
  }
  return ok_status();
}

Status Transport::Impl::listen() {
  const HostPort& at = options_.listen;
  auto fail = [&](const error_code& ec) {
    error_code ignored;
    acceptor_.close(ignored);
    return Error(Code::io_error,
                 "listen on " + at.to_string() + ": " + error_text(ec),
                 "choose a free peer address with --peer HOST:PORT, or stop "
                 "the process that holds it",
                 "transport");
  };
  error_code ec;
  tcp::endpoint ep;
  auto ip = asio::ip::make_address(at.host, ec);
  if (!ec) {
    ep = tcp::endpoint(ip, at.port);
    if (!ip.is_unspecified()) source_ip_ = ip;
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(at.host, std::to_string(at.port),
                                    tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return Error(Code::invalid_argument,
                   "listen on " + at.to_string() +
                       ": cannot resolve host: " + error_text(ec),
                   "give --peer an IP address or a resolvable name",
                   "transport");
    }
    ep = results.begin()->endpoint();
  }
  if (acceptor_.open(ep.protocol(), ec)) return fail(ec);
  if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec)) {
    return fail(ec);
  }
  if (acceptor_.bind(ep, ec)) return fail(ec);
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec)) {
    return fail(ec);
  }
  port_ = acceptor_.local_endpoint(ec).port();
  return ok_status();
}

Status Transport::Impl::start() {
  NW_RETURN_IF_ERROR(validate());
  std::lock_guard lock(mu_);
  if (started_ || stopped_) {
    return Error(Code::failed_precondition,
                 "transport: already started (a stopped transport cannot be "
                 "restarted; create a new one)",
                 {}, "transport");
  }
  NW_RETURN_IF_ERROR(listen());
  started_ = true;
  Hello hello;
  hello.listen_port = port_;
  hello.node_id = options_.node_id;
  hello.cluster_id = options_.cluster_id;
  hello_ = encode_frame(FrameType::hello, 0, encode_hello(hello));
  asio::post(io_, [this] {
    std::lock_guard inner(mu_);
    do_accept();
    for (auto& [id, p] : peers_) dial(*p);
    for (const auto& [key, sd] : seeds_) dial_seed(key);
  });
  io_running_ = true;
  try {
    thread_ = std::thread([this] { run_io(); });
  } catch (const std::system_error& e) {
    io_running_ = false;
    stopped_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    return Error(Code::internal,
                 std::string("transport: start the I/O thread: ") + e.what(),
                 {}, "transport");
  }
  kLog.info("listening for peers",
            {{"node", options_.node_id},
             {"addr", HostPort{options_.listen.host, port_}.to_string()}});
  return ok_status();
}

void Transport::Impl::run_io() {
  try {
    io_.run();
  } catch (const std::exception& e) {
    kLog.error("I/O thread failed; peer traffic stopped",
               {{"error", e.what()}});
  }
  io_running_ = false;
}

void Transport::Impl::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    if (!started_) return;
  }
  asio::post(io_, [this] { shutdown_io(); });
  work_.reset();
  if (thread_.joinable()) thread_.join();
  io_running_ = false;
  kLog.info("stopped", {{"node", options_.node_id}});
}

void Transport::Impl::shutdown_io() {
  std::lock_guard lock(mu_);
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  auto conns = conns_;
  for (const auto& c : conns) close_conn(c, "transport stopping", false);
  for (auto& [id, p] : peers_) p->retry_timer.reset();
  for (auto& [key, sd] : seeds_) sd->retry_timer.reset();
  // Pending completions would only see operation_aborted; the io_context's
  // destructor frees them.
  io_.stop();
}

// ---- Calls from any thread ----

void Transport::Impl::set_peer(const std::string& node_id, HostPort addr) {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  Peer& p = add_peer(node_id);
  p.announced = true;
  p.addr = std::move(addr);
  if (started_) asio::post(io_, [this, node_id] { dial_now(node_id); });
}

void Transport::Impl::remove_peer(const std::string& node_id) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(node_id);
  if (it == peers_.end()) return;
  PeerPtr p = std::move(it->second);
  peers_.erase(it);
  if (p->connected_metric != nullptr) p->connected_metric->set(0);
  kLog.info("peer removed", {{"peer", node_id}});
  if (!started_ || stopped_) return;
  asio::post(io_, [this, p] {
    std::lock_guard inner(mu_);
    if (p->conn) {
      close_conn(p->conn, "peer removed", false);
      // Unless it already dialed in again as a new peer.
      Peer* again = find(p->node_id);
      if (again == nullptr || !again->conn) notify(p->node_id, false);
    }
    if (p->dialing) close_conn(p->dialing, "peer removed", false);
    p->retry_timer.reset();
  });
}

void Transport::Impl::add_seed(HostPort addr) {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  std::string key = addr.to_string();
  if (seeds_.count(key) != 0 || self_seeds_.count(key) != 0) return;
  for (const auto& [id, p] : peers_) {
    if (p->addr == addr) {
      kLog.debug("seed is the address of a known peer; not dialed",
                 {{"seed", key}, {"peer", id}});
      return;
    }
  }
  seeds_.emplace(key,
                 std::make_shared<Seed>(std::move(addr), options_, seed_++));
  kLog.info("seed added", {{"seed", key}});
  if (started_) {
    asio::post(io_, [this, key] {
      std::lock_guard inner(mu_);
      dial_seed(key);
    });
  }
}

void Transport::Impl::remove_seed(const HostPort& addr) {
  std::lock_guard lock(mu_);
  auto it = seeds_.find(addr.to_string());
  if (it == seeds_.end()) return;
  SeedPtr sd = std::move(it->second);
  seeds_.erase(it);
  kLog.info("seed removed", {{"seed", addr.to_string()}});
  if (!started_ || stopped_) return;
  asio::post(io_, [this, sd] {
    std::lock_guard inner(mu_);
    if (sd->dialing) close_conn(sd->dialing, "seed removed", false);
    sd->retry_timer.reset();
  });
}

std::vector<std::pair<std::string, std::string>> Transport::Impl::seeds()
    const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(seeds_.size());
  for (const auto& [key, sd] : seeds_) out.emplace_back(key, sd->last_error);
  return out;
}

void Transport::Impl::set_peer_event_handler(PeerEventHandler h) {
  std::lock_guard lock(mu_);
  if (started_ || stopped_) {
    kLog.error(
        "set_peer_event_handler() after start() is ignored; set it before");
    return;
  }
  peer_event_handler_ = std::move(h);
}

bool Transport::Impl::send(const std::string& to_node, std::uint64_t group,
                           std::string payload) {
  const bool fits = frame_size(payload.size()) <= options_.max_frame_size;
  std::string frame;
  if (fits) frame = encode_frame(FrameType::message, group, payload);
  std::lock_guard lock(mu_);
  Peer* p = find(to_node);
  if (stopped_ || p == nullptr) {
    count_dropped(p, to_node, stopped_ ? "stopped" : "unknown_peer", 1);
    return false;
  }
  if (!fits) {
    count_dropped(p, to_node, "too_large", 1);
    return false;
  }
  if (!p->queue.push(std::move(frame))) {
    count_dropped(p, to_node, "queue_full", 1);
    return false;
  }
  if (started_ && p->conn && !p->conn->writing && !p->flush_posted) {
    p->flush_posted = true;
    asio::post(io_, [this, to_node] {
      std::lock_guard inner(mu_);
      if (Peer* q = find(to_node)) {
        q->flush_posted = false;
        write_some(*q);
      }
    });
  }
  return true;
}

std::vector<PeerInfo> Transport::Impl::peers() const {
  std::lock_guard lock(mu_);
  std::vector<PeerInfo> out;
  out.reserve(peers_.size());
  for (const auto& [id, p] : peers_) {
    PeerInfo info = p->stats;
    info.node_id = id;
    info.address = p->addr ? p->addr->to_string() : std::string();
    info.announced = p->announced;
    info.connected = p->conn != nullptr;
    info.queued_frames = p->queue.frames();
    info.queued_bytes = p->queue.bytes();
    out.push_back(std::move(info));
  }
  return out;
}

// ---- Peers and dialing (I/O thread, mu_ held; add_peer/find any thread) ----

Peer* Transport::Impl::find(const std::string& node_id) {
  auto it = peers_.find(node_id);
  return it == peers_.end() ? nullptr : it->second.get();
}

Peer& Transport::Impl::add_peer(const std::string& node_id) {
  if (Peer* p = find(node_id)) return *p;
  auto p = std::make_shared<Peer>(node_id, options_, seed_++);
  if (m_sent_ != nullptr) {
    p->sent_metric = &m_sent_->with({node_id});
    p->received_metric = &m_received_->with({node_id});
    p->reconnects_metric = &m_reconnects_->with({node_id});
    p->connected_metric = &m_connected_->with({node_id});
  }
  peers_.emplace(node_id, p);
  return *p;
}

void Transport::Impl::count_dropped(Peer* p, const std::string& node_id,
                                    std::string_view reason, std::size_t n) {
  if (p != nullptr) p->stats.frames_dropped += n;
  if (m_dropped_ != nullptr) {
    m_dropped_->with({node_id, reason}).inc(static_cast<double>(n));
  }
}

void Transport::Impl::dial_now(const std::string& node_id) {
  std::lock_guard lock(mu_);
  Peer* p = find(node_id);
  if (p == nullptr || p->conn || p->dialing) return;
  if (p->retry_pending) {
    p->retry_pending = false;
    p->retry_timer->cancel();
  }
  dial(*p);
}

void Transport::Impl::dial(Peer& p) {
  if (stopped_ || !p.addr || p.conn || p.dialing || p.retry_pending) return;
  if (p.dialed_before) {
    ++p.stats.reconnects;
    if (p.reconnects_metric != nullptr) p.reconnects_metric->inc();
  }
  p.dialed_before = true;
  auto c = std::make_shared<Connection>(io_, next_conn_id_++, true);
  c->node_id = p.node_id;
  c->remote = p.addr->to_string();
  p.dialing = c;
  connect(c, *p.addr);
}

// Registers outbound `c` and starts resolving and connecting to `addr`.
void Transport::Impl::connect(const ConnPtr& c, const HostPort& addr) {
  conns_.insert(c);
  begin_session(c);
  c->resolver.async_resolve(
      addr.host, std::to_string(addr.port),
      [this, c](const error_code& ec, tcp::resolver::results_type results) {
        on_resolved(c, ec, results);
      });
}

Seed* Transport::Impl::find_seed(const std::string& key) {
  auto it = seeds_.find(key);
  return it == seeds_.end() ? nullptr : it->second.get();
}

void Transport::Impl::dial_seed(const std::string& key) {
  Seed* sd = find_seed(key);
  if (stopped_ || sd == nullptr || sd->dialing || sd->retry_pending) return;
  auto c = std::make_shared<Connection>(io_, next_conn_id_++, true);
  c->seed = key;
  c->remote = key;
  sd->dialing = c;
  connect(c, sd->addr);
}

void Transport::Impl::schedule_seed_retry(const std::string& key, Seed& sd) {
  if (stopped_ || sd.dialing || sd.retry_pending) return;
  if (!sd.retry_timer) {
    sd.retry_timer = std::make_unique<asio::steady_timer>(io_);
  }
  sd.retry_pending = true;
  sd.retry_timer->expires_after(sd.backoff.next());
  sd.retry_timer->async_wait([this, key](const error_code& ec) {
    if (ec) return;  // cancelled: seed removed or resolved, or stopping
    std::lock_guard lock(mu_);
    Seed* q = find_seed(key);
    if (q == nullptr || !q->retry_pending) return;
    q->retry_pending = false;
    dial_seed(key);
  });
}

bool Transport::Impl::resolve_seed(const ConnPtr& c,
                                   const std::string& node_id) {
  const std::string key = std::exchange(c->seed, std::string());
  auto it = seeds_.find(key);
  if (it == seeds_.end() || it->second->dialing != c) {
    close_conn(c, "seed removed", false);
    return false;
  }
  SeedPtr sd = std::move(it->second);
  seeds_.erase(it);
  sd->dialing.reset();
  sd->retry_timer.reset();
  Peer& p = add_peer(node_id);
  p.announced = true;
  p.addr = sd->addr;
  kLog.info("seed resolved", {{"seed", key}, {"peer", node_id}});
  return true;
}

ConnPtr Transport::Impl::other_end(const Connection& c) const {
  for (const auto& x : conns_) {
    if (x->outbound != c.outbound &&
        x->state != Connection::State::connecting &&
        x->local_end == c.remote_end && x->remote_end == c.local_end) {
      return x;
    }
  }
  return nullptr;
}

bool Transport::Impl::close_self_connection(const ConnPtr& c) {
  ConnPtr far = other_end(*c);
  const ConnPtr& out = c->outbound ? c : far;
  const ConnPtr& in = c->outbound ? far : c;
  // An outbound seed answered by our own node id is our own address even
  // when its other end cannot be seen (NAT, a proxy).
  if (!out || (in == nullptr && out->seed.empty())) return false;
  if (!out->seed.empty()) {
    // Our own address in the join list: not an error, and never redialed.
    auto it = seeds_.find(out->seed);
    if (it != seeds_.end() && it->second->dialing == out) {
      seeds_.erase(it);
      self_seeds_.insert(out->seed);
    }
    kLog.debug("seed is this agent's own address; dropped",
               {{"seed", out->seed}});
    close_conn(out, "seed is this agent itself", false);
  } else {
    // set_peer() named our own address: the peer entry should say so.
    close_conn(out, "dialed " + out->node_id + " at " + out->remote +
                        " but reached this agent itself");
  }
  if (in) close_conn(in, "connection from this agent itself", false);
  return true;
}

void Transport::Impl::notify(const std::string& node_id, bool connected) {
  if (!peer_event_handler_ || stopped_) return;
  asio::post(io_, [this, node_id, connected] {
    peer_event_handler_(node_id, connected);
  });
}

void Transport::Impl::schedule_retry(Peer& p) {
  if (stopped_ || !p.addr || p.conn || p.dialing || p.retry_pending) return;
  if (!p.retry_timer) p.retry_timer = std::make_unique<asio::steady_timer>(io_);
  p.retry_pending = true;
  p.retry_timer->expires_after(p.backoff.next());
  p.retry_timer->async_wait([this, id = p.node_id](const error_code& ec) {
    if (ec) return;  // cancelled: dialed early, peer removed, or stopping
    std::lock_guard lock(mu_);
    Peer* q = find(id);
    if (q == nullptr || !q->retry_pending) return;
    q->retry_pending = false;
    dial(*q);
  });
}

void Transport::Impl::on_resolved(const ConnPtr& c, const error_code& ec,
                                  const tcp::resolver::results_type& results) {
  std::lock_guard lock(mu_);
  if (c->state == Connection::State::closed) return;
  if (ec) {
    close_conn(c, "resolve " + c->remote + ": " + error_text(ec));
    return;
  }
  if (!source_ip_) {
    asio::async_connect(c->socket, results,
                        [this, c](const error_code& e, const tcp::endpoint&) {
                          on_connected(c, e);
                        });
    return;
  }
  // Leave from the listen address: async_connect() over a range would
  // reopen the socket for each endpoint and lose the bind, so take the
  // first endpoint of the listen address's family and connect to it alone.
  std::optional<tcp::endpoint> target;
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4() == source_ip_->is_v4()) {
      target = entry.endpoint();
      break;
    }
  }
  if (!target) {
    close_conn(c, "resolve " + c->remote + ": no IPv" +
                      (source_ip_->is_v4() ? "4" : "6") +
                      " address to reach it from the peer listen address " +
                      source_ip_->to_string());
    return;
  }
  if (Status s = bind_source(c->socket, *target); !s.ok()) {
    close_conn(c, s.error().message);
    return;
  }
  c->socket.async_connect(
      *target, [this, c](const error_code& e) { on_connected(c, e); });
}

Status Transport::Impl::bind_source(tcp::socket& socket,
                                    const tcp::endpoint& target) {
  error_code ec;
  if (!socket.is_open() && socket.open(target.protocol(), ec)) {
    return Error(Code::io_error, "open a socket: " + error_text(ec), {},
                 "transport");
  }
#ifdef IP_BIND_ADDRESS_NO_PORT
  // Let connect() pick the source port, so bound sockets share the
  // ephemeral range per destination as unbound ones do.
  // A failure only costs that; ignored.
  const int one = 1;
  (void)::setsockopt(socket.native_handle(), IPPROTO_IP,
                     IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  if (socket.bind(tcp::endpoint(*source_ip_, 0), ec)) {
    return Error(Code::io_error,
                 "bind the outbound socket to " + source_ip_->to_string() +
                     ": " + error_text(ec),
                 {}, "transport");
  }
  return ok_status();
}

void Transport::Impl::on_connected(const ConnPtr& c, const error_code& ec) {
  std::lock_guard lock(mu_);
  if (c->state == Connection::State::closed) return;
  if (ec) {
    close_conn(c, "connect to " + c->remote + ": " + error_text(ec));
    return;
  }
  c->state = Connection::State::handshaking;
  error_code ignored;
  c->socket.set_option(tcp::no_delay(true), ignored);
  c->local_end = c->socket.local_endpoint(ignored);
  c->remote_end = c->socket.remote_endpoint(ignored);
  c->remote_ip = c->remote_end.address();
  write_frames(c, false);
  start_read(c);
}

void Transport::Impl::do_accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void Transport::Impl::on_accept(const error_code& ec, tcp::socket socket) {
  std::lock_guard lock(mu_);
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors and the like: wait instead of spinning.
    kLog.warn("accepting a peer connection failed",
              {{"error", error_text(ec)}});
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([this](const error_code& e) {
      if (e) return;
      std::lock_guard inner(mu_);
      if (!stopped_) do_accept();
    });
    return;
  }
  auto c = std::make_shared<Connection>(io_, next_conn_id_++, false);
  c->socket = std::move(socket);
  c->state = Connection::State::handshaking;
  error_code ignored;
  c->socket.set_option(tcp::no_delay(true), ignored);
  auto ep = c->socket.remote_endpoint(ignored);
  c->local_end = c->socket.local_endpoint(ignored);
  c->remote_end = ep;
  c->remote_ip = ep.address();
  c->remote = HostPort{ep.address().to_string(), ep.port()}.to_string();
  conns_.insert(c);
  begin_session(c);
  write_frames(c, false);
  start_read(c);
  do_accept();
}

// Arms the connect-plus-hello deadline of a new connection.
void Transport::Impl::begin_session(const ConnPtr& c) {
  c->deadline.expires_after(options_.connect_timeout);
  c->deadline.async_wait([this, c](const error_code& ec) {
    if (ec) return;
    std::lock_guard lock(mu_);
    if (c->state == Connection::State::connecting) {
      close_conn(c, "connect to " + c->remote + " timed out after " +
                        ms_text(options_.connect_timeout));
    } else if (c->state == Connection::State::handshaking) {
      close_conn(c, "no hello from " + c->remote + " within " +
                        ms_text(options_.connect_timeout));
    }
  });
}

// ---- Writing (I/O thread, mu_ held) ----

void Transport::Impl::write_some(Peer& p) {
  if (!p.conn || p.conn->writing || !p.queue.has_waiting()) return;
  write_frames(p.conn, true);
}

// Writes the hello (from_queue false) or a batch from the peer's queue.
void Transport::Impl::write_frames(const ConnPtr& c, bool from_queue) {
  c->in_flight.clear();
  if (from_queue) {
    Peer* p = find(c->node_id);
    p->queue.take(kMaxBatchFrames, kMaxBatchBytes, c->in_flight);
  } else {
    c->in_flight.push_back(hello_);
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(c->in_flight.size());
  c->in_flight_bytes = 0;
  for (const auto& f : c->in_flight) {
    buffers.push_back(asio::buffer(f));
    c->in_flight_bytes += f.size();
  }
  c->in_flight_queued = from_queue;
  c->writing = true;
  asio::async_write(
      c->socket, buffers,
      [this, c](const error_code& ec, std::size_t) { on_write(c, ec); });
}

void Transport::Impl::on_write(const ConnPtr& c, const error_code& ec) {
  std::lock_guard lock(mu_);
  c->writing = false;
  if (c->state == Connection::State::closed) {
    c->in_flight.clear();  // close_conn() accounted for them
    return;
  }
  if (ec) {
    close_conn(c, "write to " + c->remote + ": " + error_text(ec));
    return;
  }
  Peer* p = c->node_id.empty() ? nullptr : find(c->node_id);
  if (c->in_flight_queued && p != nullptr) {
    const auto n = c->in_flight.size();
    p->queue.release(n, c->in_flight_bytes);
    p->stats.frames_sent += n;
    p->stats.bytes_sent += c->in_flight_bytes;
    if (p->sent_metric != nullptr) p->sent_metric->inc(static_cast<double>(n));
  }
  c->in_flight.clear();
  c->in_flight_queued = false;
  if (p != nullptr && p->conn == c) write_some(*p);
}

// ---- Reading (I/O thread; locks only around shared state) ----

void Transport::Impl::start_read(const ConnPtr& c) {
  if (c->rbuf.empty()) {
    c->rbuf.resize(std::min<std::size_t>(kReadChunk, options_.max_frame_size));
  }
  c->socket.async_read_some(
      asio::buffer(c->rbuf.data() + c->rend, c->rbuf.size() - c->rend),
      [this, c](const error_code& ec, std::size_t n) { on_read(c, ec, n); });
}

void Transport::Impl::on_read(const ConnPtr& c, const error_code& ec,
                              std::size_t n) {
  {
    std::lock_guard lock(mu_);
    if (c->state == Connection::State::closed) return;
    if (ec) {
      close_conn(c, ec == asio::error::eof
                        ? "connection closed by " + c->remote
                        : "read from " + c->remote + ": " + error_text(ec));
      return;
    }
  }
  c->rend += n;
  decode_some(c);
}

// Delivers the whole frames in c's buffer, then reads more.
void Transport::Impl::decode_some(const ConnPtr& c) {
  std::size_t needed = 0;
  while (true) {
    const std::string_view data(c->rbuf.data() + c->rbegin,
                                c->rend - c->rbegin);
    DecodeResult r = decode_frame(data, options_.max_frame_size);
    if (r.kind == DecodeResult::Kind::need_more) {
      needed = r.needed;
      break;
    }
    std::unique_lock lock(mu_);
    if (c->state == Connection::State::closed) return;
    if (r.kind == DecodeResult::Kind::bad) {
      bad_frame(c, r.defect, r.detail);
      return;
    }
    c->rbegin += r.frame.size;
    if (r.frame.type == FrameType::hello) {
      if (!on_hello(c, r.frame.payload)) return;
      if (peer_event_handler_) {
        // The connect event is posted: deliver the frames behind the hello
        // after it.
        asio::post(io_, [this, c] { decode_some(c); });
        return;
      }
      continue;
    }
    if (c->state != Connection::State::established) {
      bad_frame(c, FrameDefect::unexpected, "message frame before the hello");
      return;
    }
    Peer* p = find(c->node_id);
    if (p == nullptr || p->conn != c) continue;  // removed: closing soon
    ++p->stats.frames_received;
    p->stats.bytes_received += r.frame.size;
    if (p->received_metric != nullptr) p->received_metric->inc();
    lock.unlock();
    // c->node_id is only written before the connection is established.
    handler_(c->node_id, r.frame.group, r.frame.payload);
  }
  // Keep the partial frame at the front, and make room for all of it (at
  // most max_frame_size: decode_frame refuses longer lengths).
  if (c->rbegin > 0) {
    std::memmove(c->rbuf.data(), c->rbuf.data() + c->rbegin,
                 c->rend - c->rbegin);
    c->rend -= c->rbegin;
    c->rbegin = 0;
  }
  if (needed > c->rbuf.size()) {
    c->rbuf.resize(needed);
  } else if (c->rend == 0 && c->rbuf.size() > kReadChunk) {
    std::vector<char>(kReadChunk).swap(c->rbuf);  // give back a big buffer
  }
  std::lock_guard lock(mu_);
  if (c->state != Connection::State::closed) start_read(c);
}

bool Transport::Impl::on_hello(const ConnPtr& c, std::string_view payload) {
  if (c->state != Connection::State::handshaking) {
    bad_frame(c, FrameDefect::unexpected, "a second hello");
    return false;
  }
  auto decoded = decode_hello(payload);
  if (!decoded.ok()) {
    bad_frame(c, FrameDefect::bad_hello, decoded.error().message);
    return false;
  }
  const Hello& h = decoded.value();
  const bool to_seed = c->outbound && !c->seed.empty();
  std::string refusal;
  if (h.version != kProtocolVersion) {
    refusal = "peer speaks protocol version " + std::to_string(h.version) +
              ", this agent " + std::to_string(kProtocolVersion);
  } else if (h.node_id == options_.node_id && close_self_connection(c)) {
    return false;
  } else if (h.node_id == options_.node_id) {
    refusal = "peer " + c->remote + " has this agent's own node id " +
              h.node_id + " (two agents with one node id?)";
  } else if (!options_.cluster_id.empty() && !h.cluster_id.empty() &&
             h.cluster_id != options_.cluster_id) {
    refusal = "cluster id mismatch: peer " + h.node_id + " at " + c->remote +
              " is in cluster \"" + h.cluster_id + "\", this agent in \"" +
              options_.cluster_id + "\"";
  } else if (c->outbound && !to_seed && h.node_id != c->node_id) {
    refusal = "dialed " + c->node_id + " at " + c->remote + " but node " +
              h.node_id + " answered";
  }
  if (!refusal.empty()) {
    kLog.warn(
        "refused a peer connection",
        {{"peer", h.node_id}, {"remote", c->remote}, {"reason", refusal}});
    close_conn(c, refusal);
    return false;
  }
  if (to_seed && !resolve_seed(c, h.node_id)) return false;
  Peer& p = add_peer(h.node_id);
  c->node_id = h.node_id;
  if (!p.announced && h.listen_port != 0) {
    p.addr = HostPort{c->remote_ip.to_string(), h.listen_port};
  }
  const bool replacing = p.conn != nullptr;
  if (replacing) {
    // Duplicate: keep the connection dialed by the smaller node id; between
    // two from the same dialer keep the newer (the old one is likely dead).
    // Both sides apply the same rule, so they keep the same connection.
    const std::string& self = options_.node_id;
    auto dialer = [&](const Connection& x) -> const std::string& {
      return x.outbound ? self : h.node_id;
    };
    const std::string& preferred = std::min(self, h.node_id);
    if (dialer(*c) != dialer(*p.conn) && dialer(*c) != preferred) {
      close_conn(c, "duplicate connection", false);
      return false;
    }
    ConnPtr old = std::move(p.conn);
    close_conn(old, "replaced by a newer connection", false);
  }
  c->state = Connection::State::established;
  c->deadline.cancel();
  if (p.dialing == c) p.dialing.reset();
  p.conn = c;
  p.backoff.reset();
  if (p.retry_pending) {
    p.retry_pending = false;
    p.retry_timer->cancel();
  }
  if (p.dialing && p.dialing->state == Connection::State::connecting) {
    // It has sent nothing yet: dropping it spares a duplicate.
    close_conn(p.dialing, "superseded by an established connection", false);
  }
  if (!replacing) notify(p.node_id, true);
  if (p.connected_metric != nullptr) p.connected_metric->set(1);
  kLog.info("peer connected", {{"peer", p.node_id},
                               {"remote", c->remote},
                               {"direction", c->outbound ? "out" : "in"}});
  write_some(p);
  return true;
}

void Transport::Impl::bad_frame(const ConnPtr& c, FrameDefect defect,
                                const std::string& why) {
  if (m_bad_frames_ != nullptr) m_bad_frames_->with({to_string(defect)}).inc();
  const std::string peer = c->node_id.empty() ? "?" : c->node_id;
  kLog.warn("bad frame; closing the connection", {{"peer", peer},
                                                  {"remote", c->remote},
                                                  {"reason", to_string(defect)},
                                                  {"detail", why}});
  close_conn(c, "bad frame (" + std::string(to_string(defect)) + "): " + why);
}

void Transport::Impl::close_conn(const ConnPtr& c, const std::string& reason,
                                 bool failure) {
  if (c->state == Connection::State::closed) return;
  const bool was_established = c->state == Connection::State::established;
  c->state = Connection::State::closed;
  error_code ignored;
  c->socket.close(ignored);
  c->resolver.cancel();
  c->deadline.cancel();
  conns_.erase(c);
  Peer* p = c->node_id.empty() ? nullptr : find(c->node_id);
  if (c->writing && c->in_flight_queued) {
    // The frames stay alive until on_write(); only the accounting ends.
    if (p != nullptr) {
      p->queue.release(c->in_flight.size(), c->in_flight_bytes);
      count_dropped(p, c->node_id, "connection_lost", c->in_flight.size());
    }
    c->in_flight_queued = false;
  }
  if (!c->seed.empty()) {
    Seed* sd = find_seed(c->seed);
    if (sd != nullptr && sd->dialing == c) {
      sd->dialing.reset();
      const bool seed_news = failure && sd->last_error != reason;
      if (failure) sd->last_error = reason;
      log::write(seed_news ? log::Level::warn : log::Level::debug, "transport",
                 "seed dial failed; retrying with backoff",
                 {{"seed", c->seed}, {"reason", reason}});
      schedule_seed_retry(c->seed, *sd);
      return;
    }
  }
  const bool current = p != nullptr && (p->conn == c || p->dialing == c);
  // A peer that stays down fails every redial the same way: warn once per
  // new reason, not at every backoff step.
  const bool news = current && failure && p->stats.last_error != reason;
  if (current && failure) p->stats.last_error = reason;
  if (p != nullptr && p->conn == c) {
    p->conn.reset();
    if (p->connected_metric != nullptr) p->connected_metric->set(0);
    notify(p->node_id, false);
    log::write(
        failure ? log::Level::warn : log::Level::info, "transport",
        "peer disconnected",
        {{"peer", p->node_id}, {"remote", c->remote}, {"reason", reason}});
  } else if (p != nullptr && p->dialing == c) {
    p->dialing.reset();
    log::write(news ? log::Level::warn : log::Level::debug, "transport",
               "dial failed; retrying with backoff",
               {{"peer", p->node_id}, {"reason", reason}});
  } else if (failure && !was_established) {
    kLog.info("closed a peer connection before its handshake",
              {{"remote", c->remote}, {"reason", reason}});
  }
  if (current) schedule_retry(*p);
}

// ---- Transport ----

Transport::Transport(TransportOptions options, MessageHandler handler,
                     metrics::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler),
                                   registry)) {}

Transport::~Transport() { stop(); }

Status Transport::start() { return impl_->start(); }
void Transport::stop() { impl_->stop(); }
bool Transport::running() const { return impl_->running(); }
std::uint16_t Transport::port() const { return impl_->port(); }
void Transport::set_peer(const std::string& node_id, HostPort addr) {
  impl_->set_peer(node_id, std::move(addr));
}
void Transport::remove_peer(const std::string& node_id) {
  impl_->remove_peer(node_id);
}
void Transport::add_seed(HostPort addr) { impl_->add_seed(std::move(addr)); }
void Transport::remove_seed(const HostPort& addr) { impl_->remove_seed(addr); }
std::vector<std::pair<std::string, std::string>> Transport::seeds() const {
  return impl_->seeds();
}
void Transport::set_peer_event_handler(PeerEventHandler h) {
  impl_->set_peer_event_handler(std::move(h));
}
bool Transport::send(const std::string& to_node, std::uint64_t group,
                     std::string payload) {
  return impl_->send(to_node, group, std::move(payload));
}
std::vector<PeerInfo> Transport::peers() const { return impl_->peers(); }
std::size_t Transport::connection_count() const {
  return impl_->connection_count();
}

}  // namespace nw::transport
