#pragma once

// A cluster of RaftHosts on real Transports (127.0.0.1, port 0) for the
// raft_host tests. Each member's state machine is the sequence of applied
// commands, so members can be compared; it snapshots and restores that
// sequence and records the conf changes it saw.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/metrics/registry.h"
#include "agent/raft/memory_storage.h"
#include "agent/raft_host/raft_host.h"
#include "agent/transport/transport.h"
#include "agent/wal/wal_storage.h"
#include "tests/support/temp_dir.h"

namespace nw::raft_host::test {

inline constexpr std::uint64_t kGroup = 7;
inline constexpr Duration kDeadline = std::chrono::seconds(30);

std::string node_name(std::size_t i);

template <class T>
bool ready_within(std::future<T>& f, Duration d) {
  return f.wait_for(d) == std::future_status::ready;
}

// The test state machine's snapshot format: "<len>:<command>" repeated.
std::string encode_commands(const std::vector<std::string>& cmds);
Result<std::vector<std::string>> decode_commands(const std::string& data);

struct ClusterOptions {
  std::size_t members = 3;  // member slots; raft ids 1..members
  std::size_t voters = 3;   // the initial membership: raft ids 1..voters
  bool wal = true;          // WalStorage in a TempDir, else MemoryStorage
  bool autostart = true;    // start members 0..voters-1 in the constructor
  bool metrics = false;     // a Registry per member
  std::uint64_t snapshot_threshold = 0;
  std::uint64_t snapshot_keep_entries = 500;
};

// One member: its storage, transport and host, and what its state machine
// saw. Stopping keeps the storage (the WAL directory, or the
// MemoryStorage) for a restart.
struct Member {
  std::size_t index = 0;
  const ClusterOptions* options = nullptr;
  std::string wal_dir;
  std::uint64_t incarnation = 0;
  std::unique_ptr<raft::MemoryStorage> memory;  // when !options->wal
  std::unique_ptr<wal::WalStorage> wal;
  std::unique_ptr<metrics::Registry> registry;  // when options->metrics
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<RaftHost> host;
  std::atomic<RaftHost*> target{nullptr};  // for the transport's handler

  // Guarded by mu; reset by start() (apply_indexes, restores) or kept.
  mutable std::mutex mu;
  std::vector<std::string> applied;           // the state machine
  std::vector<raft::LogIndex> apply_indexes;  // since the last start()
  std::vector<raft::LogIndex> restores;       // snapshot index per restore
  std::vector<std::pair<raft::ConfChange, raft::Membership>> conf_changes;
  Status fail_restore;  // returned by restore() when not OK

  bool running() const { return host != nullptr; }
  raft::NodeId id() const { return raft::NodeId(index + 1); }
  raft::LogStorage& storage();

  std::vector<std::string> applied_copy() const;
  std::vector<raft::LogIndex> apply_indexes_copy() const;
  std::vector<raft::LogIndex> restores_copy() const;
  std::vector<std::pair<raft::ConfChange, raft::Membership>> conf_copy() const;

  StateMachine state_machine();
  // Opens the storage and starts transport and host; host->start()'s
  // status is returned (the member is left stopped when it fails).
  Status start(const PeerMap& peers);
  void stop();
  ~Member() { stop(); }
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();

  Member& operator[](std::size_t i) { return *members_[i]; }
  std::size_t size() const { return members_.size(); }
  PeerMap all_peers() const;

  // Starts member i (REQUIRE: OK) and (re)announces every running member's
  // address to every other one (a restarted member listens on a new port).
  void start(std::size_t i);
  // As start() but returns host->start()'s status.
  Status try_start(std::size_t i);
  void stop(std::size_t i) { members_[i]->stop(); }

  // The running member that leads in the highest term, if any.
  std::optional<std::size_t> leader() const;
  // Waits for a leader that every other running member follows.
  std::size_t wait_leader();
  // Proposes `count` commands "<prefix>-<k>" on member `on`; all must be
  // applied there with increasing indexes.
  std::vector<std::string> propose_all(std::size_t on,
                                       const std::string& prefix, int count);
  // Waits until every running member applied exactly `want`.
  void wait_applied(const std::vector<std::string>& want);

 private:
  void announce();

  ClusterOptions options_;
  testsupport::TempDir tmp_{"nw-raft-host-"};
  std::vector<std::unique_ptr<Member>> members_;
};

}  // namespace nw::raft_host::test
