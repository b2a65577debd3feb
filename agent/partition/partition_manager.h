#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/partition/replica.h"
#include "agent/service/service.h"
#include "common/base/result.h"
#include "common/base/units.h"

namespace nw::cluster {
class Cluster;
}
namespace nw::controller {
class ClusterState;
struct TopicRecord;
}  // namespace nw::controller
namespace nw::groups {
class Coordinator;
}
namespace nw::http {
class Server;
struct Request;
struct Response;
}  // namespace nw::http
namespace nw::metrics {
class Registry;
}

namespace nw::partition {

struct ManagerOptions {
  std::string node_id;
  std::string data_dir;  // replicas live in <data_dir>/partitions/
  Duration tick_interval = std::chrono::milliseconds(50);
  int election_ticks = 8;
  int heartbeat_ticks = 1;
  bool fsync = true;
};

// One partition as this agent's replica (or its leader) reports it.
struct PartitionView {
  std::string topic;
  int partition = 0;
  std::string leader;      // node id; "" when unknown
  bool is_leader = false;  // the reporting agent leads it (local views)
  std::vector<std::string> replicas;
  std::vector<std::string> target_replicas;
  std::vector<std::string> in_sync;
  std::uint64_t high_watermark = 0;
  std::uint64_t start_offset = 0;
  std::uint64_t size_bytes = 0;
  std::string status;  // online | degraded | no_leader | offline | reassigning
  std::string error;
};

// Hosts this agent's partition replicas and serves the topic API.
//
// It follows the controller state: for every partition that lists this
// agent among its replicas (or reassignment targets) it opens a Replica
// under <data_dir>/partitions/<topic>.<topic id>/<partition>/ and runs its
// Raft group on the cluster's transport; when a topic is deleted or a
// replica moved away, it stops the replica and deletes its files. A
// replica whose log fails to open (corruption) is recorded as offline with
// the error and does not stop the agent or the other partitions.
//
// On partition leaders, a loop hands leadership back to the preferred
// replica (the first listed) once it is caught up, and carries out
// reassignments one membership change at a time (learner, promotion,
// removal, then the controller record). On the controller leader it runs
// the consumer-group coordinator's expiry.
//
// Requests for a partition go to its leader: served here when this agent
// leads it, else forwarded (the leader is known from the local replica, or
// asked from the replicas' agents and cached).
//
// Lifecycle: construct, add_routes() (before the API starts), start()
// after the cluster service started, stop() before the cluster stops.
// Threads: a loop thread; API threads; the transport's thread (deliver).
// The replica map is guarded by mu_ (shared for lookups).
class PartitionManager final : public service::Service {
 public:
  PartitionManager(ManagerOptions options, cluster::Cluster& cluster,
                   metrics::Registry& registry);
  ~PartitionManager() override;

  std::string_view name() const override { return "partitions"; }
  Status start() override;
  void stop() override;

  // Registers /v1/topics/... and /v1/groups/... on the API server.
  void add_routes(http::Server& server);

  // The transport handler for partition groups (Cluster::set_group_handler).
  void on_message(const std::string& from, std::uint64_t group,
                  std::string_view payload);

  // (start offset, high watermark) of a partition, asking its leader.
  Result<std::pair<std::uint64_t, std::uint64_t>> partition_range(
      const std::string& topic, int partition);

  // Views of this agent's replicas of `topic` ("" for all).
  std::vector<PartitionView> local_views(const std::string& topic) const;

 private:
  struct Hosted {
    std::string topic;
    std::uint64_t topic_id = 0;
    int partition = 0;
    std::shared_ptr<Replica> replica;  // null when offline
    std::string error;                 // why offline
    // Preferred-leader hand-back: consecutive checks that found the
    // preferred replica caught up.
    int preferred_ready = 0;
  };

  void loop();
  void reconcile();
  void leader_duties();
  void drive_reassignment(Hosted& h, const std::vector<std::string>& target);
  void hand_back_leadership(Hosted& h, const std::string& preferred);
  void cleanup_orphans(const std::map<std::uint64_t, std::string>& wanted);
  std::string replica_dir(const std::string& topic, std::uint64_t topic_id,
                          int partition) const;

  // The hosted replica of a partition, or nullptr.
  std::shared_ptr<Replica> local(const controller::TopicRecord& t,
                                 int partition) const;
  // The API address of the agent that leads the partition, "" if unknown.
  std::string leader_api(const controller::TopicRecord& t, int partition);
  void forget_leader(const controller::TopicRecord& t, int partition);
  // What the agent `node` reports of its replicas of `topic`
  // (GET /v1/topics/{name}/local). Errors: those of the request.
  Result<std::vector<PartitionView>> remote_views(const std::string& node,
                                                  const std::string& topic,
                                                  Duration timeout) const;
  std::string api_of_node(const std::string& node_id) const;
  std::string node_of_raft(raft::NodeId id) const;

  // topic_api.cc
  http::Response create_topic(const http::Request& r);
  http::Response list_topics(const http::Request& r);
  http::Response describe_topic(const http::Request& r);
  http::Response alter_topic(const http::Request& r);
  http::Response delete_topic(const http::Request& r);
  http::Response reassign(const http::Request& r);
  http::Response produce(const http::Request& r);
  http::Response fetch(const http::Request& r);
  http::Response list_offsets(const http::Request& r);
  http::Response local_state(const http::Request& r);
  http::Response partition_offsets(const http::Request& r);
  enum class TopicRead { linearizable, local_first };
  Result<controller::TopicRecord> find_topic(
      const std::string& name, TopicRead how = TopicRead::linearizable);
  Result<controller::TopicRecord> find_partition(const http::Request& r,
                                                 int* partition);
  // The offset of a partition at `at` (-2 earliest, -1 latest, else ms),
  // from its leader.
  Result<std::uint64_t> partition_offset(const controller::TopicRecord& t,
                                         int partition, std::int64_t at);
  // For a partition request: nullopt when this agent leads it (serve),
  // else the leader's answer.
  std::optional<http::Response> route_to_leader(
      const http::Request& r, const controller::TopicRecord& t, int partition);
  std::vector<PartitionView> gather_views(const controller::TopicRecord& t);
  // Adds NW-Leader (this agent's API address) to a partition answer.
  void name_leader(http::Response* resp) const;

  // group_routes.cc: the consumer-group coordinator, wired to the
  // controller (offsets) and to the partition leaders (ranges).
  void init_coordinator();
  void coordinator_tick();
  void add_group_api(http::Server& server);

  const ManagerOptions options_;
  cluster::Cluster& cluster_;
  metrics::Registry& registry_;
  std::unique_ptr<groups::Coordinator> coordinator_;

  mutable std::shared_mutex mu_;
  std::map<std::uint64_t, Hosted> hosted_;  // by group id; guarded by mu_
  // Leader node per group id learned from other agents; guarded by mu_.
  std::map<std::uint64_t, std::string> leader_cache_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;               // guarded by loop_mu_
  bool was_controller_leader_ = false;  // loop thread only
  // The one scan for directories of topics deleted while the agent was
  // down has been done (loop thread only).
  bool orphans_checked_ = false;
  std::thread thread_;
};

}  // namespace nw::partition
