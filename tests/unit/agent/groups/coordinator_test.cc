// The consumer-group coordinator (agent/groups/coordinator.h) against a
// fake controller and an injected clock.
#include "agent/groups/coordinator.h"

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fake_controller.h"

namespace nw::groups {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeController;

using Parts = std::vector<TopicPartition>;

Parts parts(const std::string& topic, std::vector<int> ps) {
  Parts out;
  for (int p : ps) out.push_back({topic, p});
  return out;
}

JoinRequest join_req(std::vector<std::string> topics,
                     Strategy strategy = Strategy::range) {
  JoinRequest r;
  r.client_id = "test";
  r.topics = std::move(topics);
  r.strategy = strategy;
  r.session_timeout = seconds(10);
  return r;
}

struct Fixture {
  FakeController ctl;
  Coordinator coord;

  Fixture() : coord(make()) {}

  CoordinatorOptions make() {
    ctl.add_topic("orders", 4);
    return ctl.options();
  }

  JoinResult join(const std::string& group = "g",
                  std::vector<std::string> topics = {"orders"}) {
    Result<JoinResult> r = coord.join(group, join_req(std::move(topics)));
    REQUIRE(r.ok());
    return *r;
  }
};

TEST_SUITE("groups.coordinator") {
  TEST_CASE("join.first_member_gets_generation_1_and_every_partition") {
    Fixture f;
    JoinResult j = f.join();
    CHECK(j.member_id == "m-1");
    CHECK(j.generation == 1);
    CHECK(j.assignment == parts("orders", {0, 1, 2, 3}));
    CHECK(j.heartbeat_interval == milliseconds(3333));
    CHECK(j.strategy == Strategy::range);
  }

  TEST_CASE("join.default_member_ids_are_random_and_distinct") {
    FakeController ctl;
    ctl.add_topic("orders", 1);
    CoordinatorOptions o = ctl.options();
    o.new_member_id = nullptr;
    Coordinator coord(o);
    Result<JoinResult> a = coord.join("g", join_req({"orders"}));
    Result<JoinResult> b = coord.join("g", join_req({"orders"}));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->member_id.size() == 18);
    CHECK(a->member_id.rfind("m-", 0) == 0);
    CHECK(a->member_id != b->member_id);
  }

  TEST_CASE("join.refuses_bad_input") {
    Fixture f;
    CHECK(f.coord.join("", join_req({"orders"})).error().code ==
          Code::invalid_argument);
    CHECK(f.coord.join("a b", join_req({"orders"})).error().code ==
          Code::invalid_argument);
    CHECK(f.coord.join(std::string(201, 'g'), join_req({"orders"}))
              .error()
              .code == Code::invalid_argument);
    CHECK(f.coord.join("g", join_req({})).error().code ==
          Code::invalid_argument);
    JoinRequest r = join_req({"orders"});
    r.session_timeout = milliseconds(999);
    CHECK(f.coord.join("g", r).error().code == Code::invalid_argument);
    r.session_timeout = milliseconds(300001);
    CHECK(f.coord.join("g", r).error().code == Code::invalid_argument);
    Result<JoinResult> missing = f.coord.join("g", join_req({"nope"}));
    CHECK(missing.error().code == Code::not_found);
    CHECK(missing.error().message.find("nope") != std::string::npos);
    CHECK_FALSE(missing.error().hint.empty());
    CHECK(f.coord.list().empty());
  }

  TEST_CASE("join.known_member_with_same_topics_keeps_generation") {
    Fixture f;
    f.ctl.add_topic("audit", 2);
    JoinResult j = f.join();
    JoinRequest again = join_req({"orders"});
    again.member_id = j.member_id;
    Result<JoinResult> r = f.coord.join("g", again);
    REQUIRE(r.ok());
    CHECK(r->member_id == j.member_id);
    CHECK(r->generation == 1);
    again.topics = {"orders", "audit"};
    r = f.coord.join("g", again);
    REQUIRE(r.ok());
    CHECK(r->generation == 2);
    CHECK(r->assignment.size() == 6);
  }

  TEST_CASE("join.unknown_member_id_joins_as_new_member") {
    Fixture f;
    JoinRequest r = join_req({"orders"});
    r.member_id = "m-from-old-leader";
    Result<JoinResult> j = f.coord.join("g", r);
    REQUIRE(j.ok());
    CHECK(j->member_id == "m-1");
  }

  TEST_CASE("heartbeat.second_member_rebalances") {
    Fixture f;
    JoinResult a = f.join();
    JoinResult b = f.join();
    CHECK(b.generation == 2);
    CHECK(b.assignment == parts("orders", {2, 3}));
    Result<HeartbeatResult> h = f.coord.heartbeat("g", a.member_id, 1);
    REQUIRE(h.ok());
    CHECK(h->rebalance);
    CHECK(h->generation == 2);
    CHECK(h->assignment == parts("orders", {0, 1}));
    h = f.coord.heartbeat("g", a.member_id, 2);
    REQUIRE(h.ok());
    CHECK_FALSE(h->rebalance);
  }

  TEST_CASE("heartbeat.unknown_member_is_not_found") {
    Fixture f;
    f.join();
    Result<HeartbeatResult> h = f.coord.heartbeat("g", "m-9", 1);
    CHECK(h.error().code == Code::not_found);
    CHECK(h.error().hint.find("rejoin") != std::string::npos);
    CHECK(f.coord.heartbeat("other", "m-1", 1).error().code == Code::not_found);
  }

  TEST_CASE("expire.drops_members_after_their_session_timeout") {
    Fixture f;
    JoinResult a = f.join();
    JoinResult b = f.join();
    f.ctl.advance(seconds(6));
    REQUIRE(f.coord.heartbeat("g", a.member_id, 2).ok());
    CHECK(f.coord.expire() == 0);
    f.ctl.advance(seconds(5));  // b: 11 s since it was seen; a: 5 s
    CHECK(f.coord.expire() == 1);
    Result<HeartbeatResult> h = f.coord.heartbeat("g", a.member_id, 2);
    REQUIRE(h.ok());
    CHECK(h->generation == 3);
    CHECK(h->rebalance);
    CHECK(h->assignment == parts("orders", {0, 1, 2, 3}));
    CHECK(f.coord.heartbeat("g", b.member_id, 2).error().code ==
          Code::not_found);
  }

  TEST_CASE("heartbeat.after_the_session_timeout_is_not_found") {
    Fixture f;
    JoinResult a = f.join();
    f.ctl.advance(milliseconds(10001));
    // Even before expire() ran.
    CHECK(f.coord.heartbeat("g", a.member_id, 1).error().code ==
          Code::not_found);
    CHECK(f.coord.list().empty());
  }

  TEST_CASE("expire.last_member_gone_leaves_an_empty_group") {
    Fixture f;
    JoinResult a = f.join();
    REQUIRE(
        f.coord.commit_offsets("g", a.member_id, 1, {{"orders", 0, 5}}).ok());
    f.ctl.advance(seconds(11));
    CHECK(f.coord.expire() == 1);
    std::vector<GroupSummary> l = f.coord.list();
    REQUIRE(l.size() == 1);
    CHECK(l[0].state == GroupState::empty);
    CHECK(l[0].members == 0);
    // A new first member starts again at generation 1.
    CHECK(f.join().generation == 1);
  }

  TEST_CASE("leave.rebalances_the_others") {
    Fixture f;
    JoinResult a = f.join();
    JoinResult b = f.join();
    REQUIRE(f.coord.leave("g", b.member_id).ok());
    Result<HeartbeatResult> h = f.coord.heartbeat("g", a.member_id, 2);
    REQUIRE(h.ok());
    CHECK(h->generation == 3);
    CHECK(h->assignment.size() == 4);
    CHECK(f.coord.leave("g", b.member_id).error().code == Code::not_found);
  }

  TEST_CASE("heartbeat.partition_count_growth_rebalances") {
    Fixture f;
    JoinResult a = f.join();
    f.ctl.add_topic("orders", 6);
    Result<HeartbeatResult> h = f.coord.heartbeat("g", a.member_id, 1);
    REQUIRE(h.ok());
    CHECK(h->rebalance);
    CHECK(h->generation == 2);
    CHECK(h->assignment == parts("orders", {0, 1, 2, 3, 4, 5}));
  }

  TEST_CASE("expire.partition_count_growth_rebalances") {
    Fixture f;
    f.join();
    f.ctl.add_topic("orders", 5);
    CHECK(f.coord.expire() == 0);
    CHECK(f.coord.list().at(0).generation == 2);
    CHECK(f.coord.expire() == 0);
    CHECK(f.coord.list().at(0).generation == 2);
  }

  TEST_CASE("join.group_keeps_its_first_members_strategy") {
    Fixture f;
    f.ctl.add_topic("a", 1);
    f.ctl.add_topic("b", 1);
    Result<JoinResult> one =
        f.coord.join("g", join_req({"a", "b"}, Strategy::roundrobin));
    Result<JoinResult> two =
        f.coord.join("g", join_req({"a", "b"}, Strategy::range));
    REQUIRE(one.ok());
    REQUIRE(two.ok());
    CHECK(two->strategy == Strategy::roundrobin);
    CHECK(two->assignment == parts("b", {0}));  // range: m-1 gets both
    Result<GroupDescription> d = f.coord.describe("g");
    REQUIRE(d.ok());
    CHECK(d->strategy == Strategy::roundrobin);
  }

  TEST_CASE("commit_offsets.stale_generation_is_conflict") {
    Fixture f;
    JoinResult a = f.join();
    f.join();
    Status s = f.coord.commit_offsets("g", a.member_id, 1, {{"orders", 0, 7}});
    CHECK(s.error().code == Code::conflict);
    CHECK(s.error().message.find("generation 1") != std::string::npos);
    CHECK(f.ctl.commits() == 0);
    CHECK(f.coord.commit_offsets("g", a.member_id, 2, {{"orders", 0, 7}}).ok());
    CHECK(f.ctl.offsets("g").at({"orders", 0}) == 7);
  }

  TEST_CASE("commit_offsets.unknown_member_is_conflict") {
    Fixture f;
    f.join();
    CHECK(f.coord.commit_offsets("g", "m-7", 1, {{"orders", 0, 1}})
              .error()
              .code == Code::conflict);
  }

  TEST_CASE("commit_offsets.without_member_refused_while_members_exist") {
    Fixture f;
    JoinResult a = f.join();
    Status s = f.coord.commit_offsets("g", "", 0, {{"orders", 0, 3}});
    CHECK(s.error().code == Code::failed_precondition);
    CHECK_FALSE(s.error().hint.empty());
    REQUIRE(f.coord.leave("g", a.member_id).ok());
    CHECK(f.coord.commit_offsets("g", "", 0, {{"orders", 0, 3}}).ok());
    CHECK(f.ctl.offsets("g").at({"orders", 0}) == 3);
  }

  TEST_CASE("commit_offsets.refuses_bad_offsets") {
    Fixture f;
    CHECK(f.coord.commit_offsets("g", "", 0, {}).error().code ==
          Code::invalid_argument);
    CHECK(f.coord.commit_offsets("g", "", 0, {{"orders", 4, 1}}).error().code ==
          Code::not_found);
    CHECK(f.coord.commit_offsets("g", "", 0, {{"nope", 0, 1}}).error().code ==
          Code::not_found);
    CHECK(
        f.coord.commit_offsets("g", "", 0, {{"orders", 1, 1}, {"orders", 1, 2}})
            .error()
            .code == Code::invalid_argument);
    CHECK(f.ctl.commits() == 0);
  }

  TEST_CASE("commit_offsets.counts_as_a_heartbeat") {
    Fixture f;
    JoinResult a = f.join();
    f.ctl.advance(seconds(8));
    REQUIRE(
        f.coord.commit_offsets("g", a.member_id, 1, {{"orders", 0, 1}}).ok());
    f.ctl.advance(seconds(8));
    CHECK(f.coord.expire() == 0);
  }

  TEST_CASE("fetch_offsets.lists_committed_offsets") {
    Fixture f;
    Result<std::vector<OffsetCommit>> none = f.coord.fetch_offsets("g");
    REQUIRE(none.ok());
    CHECK(none->empty());
    f.ctl.set_offset("g", "orders", 1, 20);
    f.ctl.set_offset("g", "orders", 0, 10);
    Result<std::vector<OffsetCommit>> got = f.coord.fetch_offsets("g");
    REQUIRE(got.ok());
    CHECK(*got ==
          std::vector<OffsetCommit>{{"orders", 0, 10}, {"orders", 1, 20}});
    CHECK(f.coord.fetch_offsets("bad name").error().code ==
          Code::invalid_argument);
  }

  TEST_CASE("describe.lag_from_the_partition_range") {
    Fixture f;
    JoinResult a = f.join();
    f.join();
    f.ctl.set_range("orders", 0, 0, 1300);
    f.ctl.set_offset("g", "orders", 0, 1201);
    f.ctl.set_offset("g", "orders", 3, 150);  // beyond the high watermark
    Result<GroupDescription> d = f.coord.describe("g");
    REQUIRE(d.ok());
    CHECK(d->generation == 2);
    CHECK(d->state == GroupState::rebalancing);
    REQUIRE(d->members.size() == 2);
    CHECK(d->members[0].member_id == a.member_id);
    CHECK(d->members[0].assignment == parts("orders", {0, 1}));
    REQUIRE(d->offsets.size() == 2);
    CHECK(d->offsets[0].committed == 1201);
    CHECK(d->offsets[0].high_watermark == 1300u);
    CHECK(d->offsets[0].lag == 99u);
    CHECK(d->offsets[0].member_id == a.member_id);
    CHECK(d->offsets[1].lag == 0u);
    CHECK(d->offsets[1].member_id == "m-2");
  }

  TEST_CASE("describe.state_settles_to_stable") {
    Fixture f;
    JoinResult a = f.join();
    CHECK(f.coord.list().at(0).state == GroupState::rebalancing);
    f.ctl.advance(seconds(6));
    REQUIRE(f.coord.heartbeat("g", a.member_id, 1).ok());
    f.ctl.advance(seconds(5));
    CHECK(f.coord.list().at(0).state == GroupState::stable);
  }

  TEST_CASE("describe.unknown_group_is_not_found") {
    Fixture f;
    CHECK(f.coord.describe("g").error().code == Code::not_found);
    f.ctl.set_offset("g", "orders", 0, 1);
    Result<GroupDescription> d = f.coord.describe("g");
    REQUIRE(d.ok());
    CHECK(d->state == GroupState::empty);
    CHECK_FALSE(d->strategy.has_value());
  }

  TEST_CASE("describe.unknown_range_leaves_lag_out") {
    Fixture f;
    f.ctl.set_offset("g", "orders", 0, 1);
    f.ctl.set_offset("g", "vanished", 0, 1);
    Result<GroupDescription> d = f.coord.describe("g");
    REQUIRE(d.ok());
    REQUIRE(d->offsets.size() == 2);
    CHECK(d->offsets[0].lag.has_value());
    CHECK_FALSE(d->offsets[1].lag.has_value());
    CHECK_FALSE(d->offsets[1].high_watermark.has_value());
  }

  TEST_CASE("reset_offsets.plan_changes_nothing") {
    Fixture f;
    f.ctl.set_offset("g", "orders", 0, 50);
    f.ctl.set_range("orders", 1, 10, 100);
    ResetRequest r;
    r.topic = "orders";
    r.to = ResetTo::earliest;
    Result<ResetResult> plan = f.coord.reset_offsets("g", r);
    REQUIRE(plan.ok());
    CHECK_FALSE(plan->executed);
    REQUIRE(plan->plan.size() == 4);
    CHECK(plan->plan[0].current == 50u);
    CHECK(plan->plan[0].next == 0);
    CHECK_FALSE(plan->plan[1].current.has_value());
    CHECK(plan->plan[1].next == 10);
    CHECK(f.ctl.commits() == 0);
    CHECK(f.ctl.offsets("g").at({"orders", 0}) == 50);
  }

  TEST_CASE("reset_offsets.execute_commits_clamped_offsets") {
    Fixture f;
    f.ctl.set_range("orders", 2, 30, 60);
    ResetRequest r;
    r.topic = "orders";
    r.to = ResetTo::offset;
    r.value = 40;
    r.execute = true;
    Result<ResetResult> res = f.coord.reset_offsets("g", r);
    REQUIRE(res.ok());
    CHECK(res->executed);
    OffsetMap got = f.ctl.offsets("g");
    CHECK(got.at({"orders", 0}) == 40);
    CHECK(got.at({"orders", 2}) == 40);
    r.value = 1000;  // clamped to each high watermark
    REQUIRE(f.coord.reset_offsets("g", r).ok());
    got = f.ctl.offsets("g");
    CHECK(got.at({"orders", 0}) == 100);
    CHECK(got.at({"orders", 2}) == 60);
    r.value = 0;  // clamped to each start
    REQUIRE(f.coord.reset_offsets("g", r).ok());
    CHECK(f.ctl.offsets("g").at({"orders", 2}) == 30);
  }

  TEST_CASE("reset_offsets.shift_latest_and_time") {
    Fixture f;
    f.ctl.set_offset("g", "orders", 0, 50);
    ResetRequest r;
    r.to = ResetTo::shift;  // no topic: every topic with offsets
    r.value = -60;
    // Partitions 1..3 have nothing to shift from.
    Result<ResetResult> first = f.coord.reset_offsets("g", r);
    REQUIRE_FALSE(first.ok());
    CHECK(first.error().code == Code::failed_precondition);
    for (int p = 1; p < 4; ++p) f.ctl.set_offset("g", "orders", p, 90);
    Result<ResetResult> s = f.coord.reset_offsets("g", r);
    REQUIRE(s.ok());
    CHECK(s->plan[0].next == 0);
    CHECK(s->plan[1].next == 30);
    r.to = ResetTo::latest;
    s = f.coord.reset_offsets("g", r);
    REQUIRE(s.ok());
    CHECK(s->plan[0].next == 100);
    r.to = ResetTo::time;
    CHECK(f.coord.reset_offsets("g", r).error().code ==
          Code::failed_precondition);
  }

  TEST_CASE("reset_offsets.time_uses_the_injected_lookup") {
    FakeController ctl;
    ctl.add_topic("orders", 1);
    CoordinatorOptions o = ctl.options();
    WallTime asked{};
    o.offset_for_time = [&asked](const std::string&, int,
                                 WallTime at) -> Result<std::uint64_t> {
      asked = at;
      return std::uint64_t{42};
    };
    Coordinator coord(o);
    ResetRequest r;
    r.topic = "orders";
    r.to = ResetTo::time;
    r.value = 1'700'000'000'000;
    Result<ResetResult> res = coord.reset_offsets("g", r);
    REQUIRE(res.ok());
    CHECK(res->plan.at(0).next == 42);
    CHECK(std::chrono::duration_cast<milliseconds>(asked.time_since_epoch())
              .count() == 1'700'000'000'000);
  }

  TEST_CASE("reset_offsets.execute_refused_with_members") {
    Fixture f;
    f.join();
    ResetRequest r;
    r.topic = "orders";
    r.to = ResetTo::latest;
    CHECK(f.coord.reset_offsets("g", r).ok());
    r.execute = true;
    Result<ResetResult> res = f.coord.reset_offsets("g", r);
    CHECK(res.error().code == Code::failed_precondition);
    CHECK(f.ctl.commits() == 0);
  }

  TEST_CASE("reset_offsets.unknown_things") {
    Fixture f;
    ResetRequest r;
    CHECK(f.coord.reset_offsets("g", r).error().code == Code::not_found);
    r.topic = "nope";
    CHECK(f.coord.reset_offsets("g", r).error().code == Code::not_found);
    r.topic = "orders";
    r.to = ResetTo::offset;
    r.value = -1;
    CHECK(f.coord.reset_offsets("g", r).error().code == Code::invalid_argument);
  }

  TEST_CASE("delete_group.refused_with_members_then_deletes") {
    Fixture f;
    CHECK(f.coord.delete_group("g").error().code == Code::not_found);
    JoinResult a = f.join();
    REQUIRE(
        f.coord.commit_offsets("g", a.member_id, 1, {{"orders", 0, 5}}).ok());
    CHECK(f.coord.delete_group("g").error().code == Code::failed_precondition);
    REQUIRE(f.coord.leave("g", a.member_id).ok());
    CHECK(f.coord.delete_group("g").ok());
    CHECK_FALSE(f.ctl.has_group("g"));
    CHECK(f.coord.describe("g").error().code == Code::not_found);
  }

  TEST_CASE("concurrency.members_on_many_threads") {
    Fixture f;
    f.ctl.add_topic("orders", 12);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&f, t] {
        const std::string group = t % 2 == 0 ? "even" : "odd";
        for (int round = 0; round < 50; ++round) {
          Result<JoinResult> j = f.coord.join(group, join_req({"orders"}));
          if (!j.ok()) continue;
          Result<HeartbeatResult> h =
              f.coord.heartbeat(group, j->member_id, j->generation);
          const std::uint64_t gen = h.ok() ? h->generation : j->generation;
          (void)f.coord.commit_offsets(group, j->member_id, gen,
                                       {{"orders", t, std::uint64_t(round)}});
          (void)f.coord.describe(group);
          (void)f.coord.list();
          if (round % 3 != 0) (void)f.coord.leave(group, j->member_id);
          (void)f.coord.expire();
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const std::string group : {"even", "odd"}) {
      Result<GroupDescription> d = f.coord.describe(group);
      REQUIRE(d.ok());
      std::map<TopicPartition, int> owners;
      for (const MemberInfo& m : d->members) {
        for (const TopicPartition& tp : m.assignment) ++owners[tp];
      }
      CHECK(owners.size() == 12);
      for (const auto& [tp, n] : owners) CHECK(n == 1);
    }
  }

  TEST_CASE("clear.forgets_members_and_keeps_offsets") {
    Fixture f;
    JoinResult a = f.join();
    REQUIRE(
        f.coord.commit_offsets("g", a.member_id, 1, {{"orders", 0, 5}}).ok());
    f.coord.clear();
    CHECK(f.coord.heartbeat("g", a.member_id, 1).error().code ==
          Code::not_found);
    CHECK(f.coord.commit_offsets("g", a.member_id, 1, {{"orders", 0, 6}})
              .error()
              .code == Code::conflict);
    CHECK(f.ctl.offsets("g").at({"orders", 0}) == 5);
    CHECK(f.coord.list().at(0).state == GroupState::empty);
  }
}

}  // namespace
}  // namespace nw::groups
