// The range and round-robin assignors (agent/groups/assignment.h), checked
// against Kafka's documented examples.
#include "agent/groups/assignment.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace nw::groups {
namespace {

using Parts = std::vector<TopicPartition>;

Parts parts(const std::string& topic, std::vector<int> ps) {
  Parts out;
  for (int p : ps) out.push_back({topic, p});
  return out;
}

Parts concat(Parts a, const Parts& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_SUITE("groups.assignment") {
  TEST_CASE("range.first_members_get_one_extra") {
    Assignment a =
        range({{"m1", {"t"}}, {"m2", {"t"}}, {"m3", {"t"}}}, {{"t", 7}});
    CHECK(a["m1"] == parts("t", {0, 1, 2}));
    CHECK(a["m2"] == parts("t", {3, 4}));
    CHECK(a["m3"] == parts("t", {5, 6}));
  }

  TEST_CASE("range.splits_each_topic_on_its_own") {
    Assignment a =
        range({{"m1", {"a", "b"}}, {"m2", {"a", "b"}}}, {{"a", 3}, {"b", 3}});
    CHECK(a["m1"] == concat(parts("a", {0, 1}), parts("b", {0, 1})));
    CHECK(a["m2"] == concat(parts("a", {2}), parts("b", {2})));
  }

  TEST_CASE("range.more_members_than_partitions_leaves_some_empty") {
    Assignment a =
        range({{"m1", {"t"}}, {"m2", {"t"}}, {"m3", {"t"}}}, {{"t", 2}});
    REQUIRE(a.size() == 3);
    CHECK(a["m1"] == parts("t", {0}));
    CHECK(a["m2"] == parts("t", {1}));
    CHECK(a["m3"].empty());
  }

  TEST_CASE("range.members_with_different_subscriptions") {
    Assignment a = range({{"m1", {"a"}}, {"m2", {"a", "b"}}, {"m3", {"b"}}},
                         {{"a", 3}, {"b", 2}});
    CHECK(a["m1"] == parts("a", {0, 1}));
    CHECK(a["m2"] == concat(parts("a", {2}), parts("b", {0})));
    CHECK(a["m3"] == parts("b", {1}));
  }

  TEST_CASE("range.unknown_topic_is_assigned_to_nobody") {
    Assignment a = range({{"m1", {"gone", "t"}}}, {{"t", 2}});
    CHECK(a["m1"] == parts("t", {0, 1}));
  }

  TEST_CASE("round_robin.deals_sorted_partitions_in_turn") {
    Assignment a = round_robin({{"m1", {"t1", "t2"}}, {"m2", {"t1", "t2"}}},
                               {{"t1", 3}, {"t2", 2}});
    CHECK(a["m1"] == concat(parts("t1", {0, 2}), parts("t2", {1})));
    CHECK(a["m2"] == concat(parts("t1", {1}), parts("t2", {0})));
  }

  TEST_CASE("round_robin.skips_members_not_subscribed") {
    // Kafka's RoundRobinAssignor documentation example.
    Assignment a = round_robin(
        {{"C0", {"t0"}}, {"C1", {"t0", "t1"}}, {"C2", {"t0", "t1", "t2"}}},
        {{"t0", 1}, {"t1", 2}, {"t2", 3}});
    CHECK(a["C0"] == parts("t0", {0}));
    CHECK(a["C1"] == parts("t1", {0}));
    CHECK(a["C2"] == concat(parts("t1", {1}), parts("t2", {0, 1, 2})));
  }

  TEST_CASE("round_robin.uneven_counts_spread_evenly") {
    Assignment a =
        round_robin({{"m1", {"a", "b", "c"}}, {"m2", {"a", "b", "c"}}},
                    {{"a", 1}, {"b", 1}, {"c", 1}});
    CHECK(a["m1"].size() == 2);
    CHECK(a["m2"].size() == 1);
    // Range would have given m1 all three.
    CHECK(range({{"m1", {"a", "b", "c"}}, {"m2", {"a", "b", "c"}}},
                {{"a", 1}, {"b", 1}, {"c", 1}})["m1"]
              .size() == 3);
  }

  TEST_CASE("assign.every_partition_exactly_once") {
    const std::vector<Subscription> members = {
        {"m1", {"a", "b"}}, {"m2", {"b", "c"}}, {"m3", {"a", "c"}}};
    const PartitionCounts counts = {{"a", 5}, {"b", 4}, {"c", 7}};
    for (auto* assign : {&range, &round_robin}) {
      std::map<TopicPartition, int> seen;
      for (const auto& [id, ps] : assign(members, counts)) {
        for (const TopicPartition& tp : ps) ++seen[tp];
      }
      CHECK(seen.size() == 16);
      for (const auto& [tp, n] : seen) CHECK(n == 1);
    }
  }

  TEST_CASE("assign.deterministic_whatever_the_input_order") {
    const PartitionCounts counts = {{"a", 5}, {"b", 4}};
    const std::vector<Subscription> one = {
        {"m1", {"a", "b"}}, {"m2", {"b"}}, {"m3", {"a", "b"}}};
    const std::vector<Subscription> two = {
        {"m3", {"b", "a", "b"}}, {"m1", {"b", "a"}}, {"m2", {"b"}}};
    CHECK(range(one, counts) == range(two, counts));
    CHECK(round_robin(one, counts) == round_robin(two, counts));
    CHECK(range(one, counts) == range(one, counts));
  }

  TEST_CASE("assign.no_members_gives_nothing") {
    CHECK(range({}, {{"a", 3}}).empty());
    CHECK(round_robin({}, {{"a", 3}}).empty());
  }
}

}  // namespace
}  // namespace nw::groups
