#pragma once

// Started transports on 127.0.0.1 and what they received, shared by the
// transport tests.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/transport/transport.h"
#include "common/base/units.h"
#include "tests/support/check.h"

namespace nw::transport::test {

constexpr Duration kDeadline = std::chrono::seconds(30);

struct Received {
  std::string from;
  std::uint64_t group = 0;
  std::string payload;
};

// Messages a transport delivered, recorded from its I/O thread.
class Inbox {
 public:
  MessageHandler handler() {
    return [this](const std::string& from, std::uint64_t group,
                  std::string_view payload) {
      std::lock_guard lock(mu_);
      msgs_.push_back({from, group, std::string(payload)});
    };
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return msgs_.size();
  }
  std::vector<Received> all() const {
    std::lock_guard lock(mu_);
    return msgs_;
  }
  bool contains(const std::string& payload) const {
    std::lock_guard lock(mu_);
    for (const auto& m : msgs_) {
      if (m.payload == payload) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Received> msgs_;
};

inline TransportOptions options(const std::string& id) {
  TransportOptions o;
  o.node_id = id;
  o.cluster_id = "test-cluster";
  o.listen = {"127.0.0.1", 0};
  o.backoff_min = std::chrono::milliseconds(10);
  o.backoff_max = std::chrono::milliseconds(200);
  return o;
}

// A started transport and what it received. The inbox outlives it.
struct Node {
  explicit Node(TransportOptions o, metrics::Registry* registry = nullptr,
                PeerEventHandler events = nullptr)
      : id(o.node_id),
        t(std::make_unique<Transport>(std::move(o), inbox.handler(),
                                      registry)) {
    if (events) t->set_peer_event_handler(std::move(events));
    NW_REQUIRE_OK(t->start());
  }
  HostPort addr() const { return {"127.0.0.1", t->port()}; }
  std::optional<PeerInfo> peer(const std::string& node) const {
    for (auto& p : t->peers()) {
      if (p.node_id == node) return p;
    }
    return std::nullopt;
  }
  bool connected_to(const std::string& node) const {
    auto p = peer(node);
    return p && p->connected;
  }

  std::string id;
  Inbox inbox;
  std::unique_ptr<Transport> t;
};

inline bool linked(const Node& a, const Node& b) {
  return a.connected_to(b.id) && b.connected_to(a.id) &&
         a.t->connection_count() == 1 && b.t->connection_count() == 1;
}

// An address where nothing listens any more (a transport bound it, then
// stopped).
inline HostPort dead_address() {
  Node gone(options("nw-gone"));
  return gone.addr();
}

}  // namespace nw::transport::test
