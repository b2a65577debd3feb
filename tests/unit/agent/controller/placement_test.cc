#include "agent/controller/placement.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace nw::controller {
namespace {

using Lists = std::vector<std::vector<std::string>>;

// Nodes n1 .. n<count>; racks[i], when given and not empty, labels n<i+1>.
ClusterState::NodeMap make_nodes(int count,
                                 const std::vector<std::string>& racks = {}) {
  ClusterState::NodeMap out;
  for (int i = 0; i < count; ++i) {
    NodeRecord n;
    n.id = "n" + std::to_string(i + 1);
    n.raft_id = raft::NodeId(static_cast<std::uint64_t>(i + 1));
    const auto at = static_cast<std::size_t>(i);
    if (at < racks.size() && !racks[at].empty()) {
      n.labels["rack"] = racks[at];
    }
    out.emplace(n.id, n);
  }
  return out;
}

void add_topic(TopicMap* topics, const std::string& name, const Lists& lists) {
  TopicRecord t;
  t.name = name;
  t.id = topics->size() + 1;
  for (const auto& l : lists) t.partitions.push_back({l, {}, l});
  t.segment_bytes = 1;
  topics->emplace(name, std::move(t));
}

Lists place(const ClusterState::NodeMap& nodes, const TopicMap& topics,
            int first, int count, int replicas) {
  auto r = place_partitions(nodes, topics, first, count, replicas);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  return *r;
}

struct Load {
  std::map<std::string, int> replicas;
  std::map<std::string, int> leaders;
};

Load load_of(const ClusterState::NodeMap& nodes, const TopicMap& topics) {
  Load load;
  for (const auto& [id, n] : nodes) {
    load.replicas[id] = 0;
    load.leaders[id] = 0;
  }
  for (const auto& [name, t] : topics) {
    for (const PartitionRecord& p : t.partitions) {
      for (const std::string& id : p.replicas) ++load.replicas[id];
      ++load.leaders[p.replicas.front()];
    }
  }
  return load;
}

int spread(const std::map<std::string, int>& counts) {
  auto [lo, hi] = std::minmax_element(
      counts.begin(), counts.end(),
      [](const auto& a, const auto& b) { return a.second < b.second; });
  return hi->second - lo->second;
}

void check_distinct(const Lists& lists, int replicas) {
  for (const auto& l : lists) {
    CHECK(static_cast<int>(l.size()) == replicas);
    CHECK(std::set<std::string>(l.begin(), l.end()).size() == l.size());
  }
}

TEST_SUITE("controller.placement") {
  TEST_CASE("place_partitions.exact_outcome_on_three_nodes") {
    const auto nodes = make_nodes(3);
    CHECK(place(nodes, {}, 0, 3, 3) ==
          Lists{{"n1", "n2", "n3"}, {"n2", "n1", "n3"}, {"n3", "n1", "n2"}});
    CHECK(place(nodes, {}, 0, 4, 1) == Lists{{"n1"}, {"n2"}, {"n3"}, {"n1"}});
    CHECK(place(nodes, {}, 0, 0, 3).empty());
  }

  TEST_CASE("place_partitions.replicas_on_distinct_nodes") {
    for (int n = 1; n <= 7; ++n) {
      const auto nodes = make_nodes(n);
      for (int r = 1; r <= n; ++r) {
        CAPTURE(n);
        CAPTURE(r);
        const Lists lists = place(nodes, {}, 0, 20, r);
        CHECK(lists.size() == 20);
        check_distinct(lists, r);
      }
    }
  }

  TEST_CASE("place_partitions.balances_over_several_topics") {
    // (partitions, replicas) of the topics created one after the other.
    const std::vector<std::pair<int, int>> uniform = {
        {3, 3}, {1, 3}, {4, 3}, {2, 3}, {5, 3}, {7, 3}, {1, 3}, {6, 3}};
    const std::vector<std::pair<int, int>> mixed = {
        {3, 3}, {1, 3}, {4, 2}, {2, 3}, {5, 1}, {7, 3}, {1, 1}, {6, 2}};
    for (int n : {3, 5}) {
      for (const auto* shapes : {&uniform, &mixed}) {
        CAPTURE(n);
        CAPTURE(shapes == &mixed);
        const auto nodes = make_nodes(n);
        TopicMap topics;
        int total = 0;
        for (std::size_t i = 0; i < shapes->size(); ++i) {
          const auto [count, replicas] = (*shapes)[i];
          CAPTURE(i);
          const Lists lists = place(nodes, topics, 0, count, replicas);
          check_distinct(lists, replicas);
          add_topic(&topics, "t" + std::to_string(i), lists);
          total += count;
          // After every topic, preferred leaders differ by at most one
          // per node (each goes to a node leading fewest); replicas too
          // when every topic has the same replication factor, and within
          // a few when they differ (a leader must come from the nodes
          // leading fewest even when they hold the most).
          const Load load = load_of(nodes, topics);
          CHECK(spread(load.leaders) <= 1);
          CHECK(spread(load.replicas) <= (shapes == &mixed ? 3 : 1));
        }
        int leaders = 0;
        for (const auto& [id, c] : load_of(nodes, topics).leaders) {
          leaders += c;
        }
        CHECK(leaders == total);
      }
    }
  }

  TEST_CASE("place_partitions.one_topic_on_a_fresh_cluster_is_even") {
    for (int n : {3, 5}) {
      CAPTURE(n);
      const auto nodes = make_nodes(n);
      TopicMap topics;
      add_topic(&topics, "t", place(nodes, {}, 0, 2 * n, 3));
      const Load load = load_of(nodes, topics);
      for (const auto& [id, c] : load.leaders) CHECK(c == 2);
      for (const auto& [id, c] : load.replicas) CHECK(c == 6);
    }
    // Five nodes, five partitions: exactly this layout.
    CHECK(place(make_nodes(5), {}, 0, 5, 3) == Lists{{"n1", "n2", "n3"},
                                                     {"n4", "n5", "n1"},
                                                     {"n2", "n4", "n3"},
                                                     {"n5", "n1", "n2"},
                                                     {"n3", "n4", "n5"}});
  }

  TEST_CASE("place_partitions.one_topic_spreads_its_leaders") {
    const auto nodes = make_nodes(5);
    const Lists lists = place(nodes, {}, 0, 10, 3);
    std::map<std::string, int> leaders;
    for (const auto& l : lists) ++leaders[l.front()];
    CHECK(leaders.size() == 5);
    for (const auto& [id, c] : leaders) CHECK(c == 2);
  }

  TEST_CASE("place_partitions.counts_existing_topics") {
    const auto nodes = make_nodes(3);
    TopicMap topics;
    // n1 leads two partitions and holds three replicas; n3 holds none,
    // but will as a reassignment target.
    add_topic(&topics, "old", {{"n1", "n2"}, {"n1"}, {"n2", "n1"}});
    topics["old"].partitions[2].target_replicas = {"n2", "n3"};
    // Leaders go to the nodes leading least: n3 then n2.
    CHECK(place(nodes, topics, 3, 2, 1) == Lists{{"n3"}, {"n2"}});
    // The follower goes to the node holding fewest replicas: n2 (two)
    // rather than n1 (three).
    CHECK(place(nodes, topics, 3, 1, 2) == Lists{{"n3", "n2"}});
    // Without the target n3 holds one replica less, so it leads the next
    // partition too (leaders 2 2 2 stay within one); then n1 and n2 hold
    // three each and n1, leading more, follows.
    topics["old"].partitions[2].target_replicas.clear();
    CHECK(place(nodes, topics, 3, 2, 2) == Lists{{"n3", "n2"}, {"n3", "n1"}});
  }

  TEST_CASE("place_partitions.spreads_over_racks") {
    // Racks: r1 = n1 n2 n3, r2 = n4 n5, r3 = n6.
    const auto nodes = make_nodes(6, {"r1", "r1", "r1", "r2", "r2", "r3"});
    auto rack = [&nodes](const std::string& id) {
      return nodes.at(id).labels.at("rack");
    };
    TopicMap topics;
    for (int r = 1; r <= 3; ++r) {
      CAPTURE(r);
      const Lists lists = place(nodes, topics, 0, 12, r);
      check_distinct(lists, r);
      for (const auto& l : lists) {
        std::set<std::string> racks;
        for (const auto& id : l) racks.insert(rack(id));
        CHECK(static_cast<int>(racks.size()) == r);
      }
      add_topic(&topics, "t" + std::to_string(r), lists);
    }
    // With 5 replicas over 3 racks, every rack is used.
    const Lists five = place(nodes, topics, 0, 6, 5);
    for (const auto& l : five) {
      std::set<std::string> racks;
      for (const auto& id : l) racks.insert(rack(id));
      CHECK(racks.size() == 3);
    }
  }

  TEST_CASE("place_partitions.unlabelled_node_is_a_rack_of_its_own") {
    // n1 n2 in rack r1, n3 unlabelled: every 2-replica partition uses n3
    // or pairs r1 with n3, never n1 with n2.
    const auto nodes = make_nodes(3, {"r1", "r1", ""});
    const Lists lists = place(nodes, {}, 0, 6, 2);
    for (const auto& l : lists) {
      CHECK(std::find(l.begin(), l.end(), "n3") != l.end());
    }
  }

  TEST_CASE("place_partitions.is_deterministic") {
    const auto nodes = make_nodes(5, {"a", "b", "a", "c", "b"});
    TopicMap topics;
    add_topic(&topics, "x", place(nodes, {}, 0, 7, 3));
    const Lists first = place(nodes, topics, 0, 9, 3);
    for (int i = 0; i < 5; ++i) CHECK(place(nodes, topics, 0, 9, 3) == first);
    // Placing 4 then 5 more partitions of the same topic gives the same
    // lists as placing 9 at once.
    Lists split = place(nodes, topics, 0, 4, 3);
    TopicMap with = topics;
    add_topic(&with, "y", split);
    for (const auto& l : place(nodes, with, 4, 5, 3)) split.push_back(l);
    CHECK(split == first);
  }

  TEST_CASE("place_partitions.skips_nodes_that_left") {
    auto nodes = make_nodes(4);
    nodes.at("n2").state = NodeRecord::State::left;
    nodes.at("n3").state = NodeRecord::State::unreachable;
    for (const auto& l : place(nodes, {}, 0, 6, 3)) {
      CHECK(std::find(l.begin(), l.end(), "n2") == l.end());
    }
  }

  TEST_CASE("place_partitions.too_few_agents") {
    auto nodes = make_nodes(3);
    nodes.at("n3").state = NodeRecord::State::left;
    auto r = place_partitions(nodes, {}, 0, 3, 3);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::failed_precondition);
    CHECK(r.error().message ==
          "topic needs 3 replicas but the cluster has 2 agents");
    CHECK(r.error().hint == "add agents or lower --replicas");
    r = place_partitions(make_nodes(1), {}, 0, 1, 2);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "topic needs 2 replicas but the cluster has 1 agent");
    r = place_partitions({}, {}, 0, 1, 1);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::failed_precondition);
  }

  TEST_CASE("place_partitions.bad_arguments") {
    const auto nodes = make_nodes(3);
    for (auto [first, count, replicas] :
         {std::tuple{-1, 1, 1}, std::tuple{0, -1, 1}, std::tuple{0, 1, 0},
          std::tuple{0, 1025, 1}, std::tuple{1000, 25, 1}}) {
      auto r = place_partitions(nodes, {}, first, count, replicas);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == Code::invalid_argument);
    }
    CHECK(place(nodes, {}, 1000, 24, 1).size() == 24);
  }

  TEST_CASE("place_partitions.result_is_accepted_by_create_topic") {
    ClusterState s;
    for (std::uint64_t i = 1; i <= 5; ++i) {
      RegisterNode c;
      c.node.id = "n" + std::to_string(i);
      c.node.raft_id = raft::NodeId(i);
      c.node.labels["rack"] = i % 2 == 0 ? "even" : "odd";
      auto r = s.apply(raft::LogIndex(i), encode_command(c));
      REQUIRE(r.ok());
      REQUIRE(r->status.ok());
    }
    for (int t = 0; t < 4; ++t) {
      const Lists lists = place(s.nodes(), s.topics(), 0, 6, 3);
      CreateTopic c{"t" + std::to_string(t), lists, -1, -1, 1 << 20};
      auto r = s.apply(s.applied_index() + 1, encode_command(c));
      REQUIRE(r.ok());
      CHECK(r->status.ok());
    }
    const Load load = load_of(s.nodes(), s.topics());
    CHECK(spread(load.leaders) <= 1);
    CHECK(spread(load.replicas) <= 1);
  }
}

}  // namespace
}  // namespace nw::controller
