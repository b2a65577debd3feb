#include "agent/partition/replica.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "agent/transport/transport.h"
#include "common/records/record_batch.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace nw::partition {
namespace {

using namespace std::chrono_literals;

constexpr raft::NodeId kSelf{1};

std::string batch_of(int first, int count, std::int64_t producer = -1,
                     std::int32_t seq = -1) {
  std::vector<records::Record> recs;
  for (int i = first; i < first + count; ++i) {
    records::Record r;
    r.value = "v" + std::to_string(i);
    r.timestamp_ms = 1000 + i;
    recs.push_back(std::move(r));
  }
  return records::build_batch(recs, producer, seq);
}

// One replica of a one-voter partition on a real transport and a real
// segment log in a temp dir.
struct OneReplica {
  testsupport::TempDir dir{"replica"};
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<Replica> replica;

  explicit OneReplica(
      const std::function<void(ReplicaOptions&)>& tweak = nullptr) {
    transport::TransportOptions topts;
    topts.node_id = "n1";
    topts.listen = HostPort{"127.0.0.1", 0};
    transport = std::make_unique<transport::Transport>(
        topts, [this](const std::string& from, std::uint64_t,
                      std::string_view payload) {
          if (replica) replica->deliver(from, payload);
        });
    REQUIRE(transport->start().ok());
    ReplicaOptions o;
    o.topic = "t";
    o.topic_id = 1;
    o.group = group_id(1, 0);
    o.dir = (dir.path() / "p0").string();
    o.self = kSelf;
    o.initial.voters.insert(kSelf);
    o.tick_interval = 10ms;
    o.fsync = false;
    if (tweak) tweak(o);
    Result<std::unique_ptr<Replica>> r =
        Replica::open(o, *transport, {{kSelf, "n1"}}, nullptr);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    replica = std::move(r).value();
    REQUIRE(replica->start().ok());
    REQUIRE(testsupport::wait_until([&] { return replica->ready_to_lead(); },
                                    10s, "the replica leads"));
  }
  ~OneReplica() {
    replica->stop();
    transport->stop();
  }
};

// Three replicas of one partition, each on its own transport (three
// "agents" on 127.0.0.1).
struct ThreeReplicas {
  testsupport::TempDir dir{"replicas"};
  std::vector<std::unique_ptr<transport::Transport>> transports;
  std::vector<std::unique_ptr<Replica>> replicas;

  ThreeReplicas() {
    raft::Membership m;
    raft_host::PeerMap peers;
    for (int k = 1; k <= 3; ++k) {
      m.voters.insert(raft::NodeId(k));
      peers[raft::NodeId(k)] = "n" + std::to_string(k);
    }
    replicas.resize(3);
    for (int k = 0; k < 3; ++k) {
      transport::TransportOptions topts;
      topts.node_id = "n" + std::to_string(k + 1);
      topts.listen = HostPort{"127.0.0.1", 0};
      transports.push_back(std::make_unique<transport::Transport>(
          topts, [this, k](const std::string& from, std::uint64_t,
                           std::string_view payload) {
            if (replicas[k]) replicas[k]->deliver(from, payload);
          }));
      REQUIRE(transports.back()->start().ok());
    }
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        if (a == b) continue;
        transports[a]->set_peer("n" + std::to_string(b + 1),
                                HostPort{"127.0.0.1", transports[b]->port()});
      }
    }
    for (int k = 0; k < 3; ++k) {
      ReplicaOptions o;
      o.topic = "t";
      o.topic_id = 1;
      o.group = group_id(1, 0);
      o.dir = (dir.path() / ("n" + std::to_string(k + 1))).string();
      o.self = raft::NodeId(k + 1);
      o.initial = m;
      o.tick_interval = 10ms;
      o.fsync = false;
      Result<std::unique_ptr<Replica>> r =
          Replica::open(o, *transports[k], peers, nullptr);
      REQUIRE_MESSAGE(r.ok(), r.error().to_string());
      replicas[k] = std::move(r).value();
    }
    for (auto& r : replicas) REQUIRE(r->start().ok());
  }
  ~ThreeReplicas() {
    for (auto& r : replicas) r->stop();
    for (auto& t : transports) t->stop();
  }
  // The replica that leads and is ready, or -1.
  int leader() const {
    for (int k = 0; k < 3; ++k) {
      if (replicas[k]->ready_to_lead()) return k;
    }
    return -1;
  }
};

}  // namespace

TEST_SUITE("partition.replica") {
  TEST_CASE("produce.assigns_offsets_in_order_and_fetch_returns_them") {
    OneReplica one;
    Result<ProduceAck> a = one.replica->produce(batch_of(0, 3), Acks::all, 5s);
    Result<ProduceAck> b =
        one.replica->produce(batch_of(3, 2), Acks::leader, 5s);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a->base_offset == 0);
    CHECK(a->count == 3);
    CHECK(b->base_offset == 3);
    REQUIRE(testsupport::wait_until(
        [&] { return one.replica->high_watermark() == 5; }, 5s, "hw 5"));
    Result<FetchResult> f = one.replica->fetch(1, 1 << 20, 0ms);
    REQUIRE(f.ok());
    CHECK(f->high_watermark == 5);
    CHECK(f->next_offset == 5);
    Result<std::vector<std::string_view>> batches =
        records::split_batches(f->data);
    REQUIRE(batches.ok());
    REQUIRE(batches->size() == 2);  // whole batches, the first from 0
    Result<std::vector<records::Record>> first =
        records::decode_records((*batches)[0]);
    REQUIRE(first.ok());
    CHECK(first->front().offset == 0);
    CHECK(first->back().value == "v2");
  }

  TEST_CASE("fetch.max_records_ends_with_the_batch_that_reaches_it") {
    OneReplica one;
    for (int i = 0; i < 4; ++i) {
      REQUIRE(one.replica->produce(batch_of(i * 10, 10), Acks::all, 5s).ok());
    }
    Result<FetchResult> f = one.replica->fetch(5, 1 << 20, 0ms, 12);
    REQUIRE(f.ok());
    // 5..9 from the first batch, then 10..19 reaches 12 records.
    CHECK(f->next_offset == 20);
    Result<std::vector<std::string_view>> batches =
        records::split_batches(f->data);
    REQUIRE(batches.ok());
    CHECK(batches->size() == 2);
    Result<FetchResult> all = one.replica->fetch(0, 1 << 20, 0ms);
    REQUIRE(all.ok());
    CHECK(all->next_offset == 40);
  }

  TEST_CASE("produce.idempotent_retry_gets_the_first_offsets") {
    OneReplica one;
    const std::string b0 = batch_of(0, 4, 77, 0);
    Result<ProduceAck> first = one.replica->produce(b0, Acks::all, 5s);
    REQUIRE(first.ok());
    CHECK_FALSE(first->duplicate);
    Result<ProduceAck> again = one.replica->produce(b0, Acks::all, 5s);
    REQUIRE(again.ok());
    CHECK(again->duplicate);
    CHECK(again->base_offset == first->base_offset);
    CHECK(one.replica->high_watermark() == 4);
    // The next sequence goes on; a gap is refused and names the expected
    // sequence.
    CHECK(one.replica->produce(batch_of(4, 1, 77, 4), Acks::all, 5s).ok());
    Result<ProduceAck> gap =
        one.replica->produce(batch_of(5, 1, 77, 9), Acks::all, 5s);
    REQUIRE_FALSE(gap.ok());
    CHECK(gap.error().code == Code::failed_precondition);
    CHECK(gap.error().message.find("expected 5") != std::string::npos);
  }

  TEST_CASE("produce.refuses_bodies_that_are_not_one_batch") {
    OneReplica one;
    const std::string b = batch_of(0, 2);
    CHECK(one.replica->produce("junk", Acks::all, 1s).error().code ==
          Code::invalid_argument);
    CHECK(one.replica->produce(b + b, Acks::all, 1s).error().code ==
          Code::invalid_argument);
    std::string flipped = b;
    flipped.back() = static_cast<char>(flipped.back() ^ 1);
    CHECK(one.replica->produce(flipped, Acks::all, 1s).error().code ==
          Code::invalid_argument);
    CHECK(one.replica
              ->produce(records::build_control_batch(
                            records::ControlKind::raft_noop, ""),
                        Acks::all, 1s)
              .error()
              .code == Code::invalid_argument);
  }

  TEST_CASE("fetch.out_of_range_and_long_poll") {
    OneReplica one;
    CHECK(one.replica->fetch(1, 1024, 0ms).error().code ==
          Code::failed_precondition);
    // A fetch at the high watermark waits for the next commit.
    std::thread later([&] {
      std::this_thread::sleep_for(50ms);
      (void)one.replica->produce(batch_of(0, 1), Acks::all, 5s);
    });
    Result<FetchResult> f = one.replica->fetch(0, 1024, 5s);
    later.join();
    REQUIRE(f.ok());
    CHECK(f->high_watermark == 1);
    CHECK_FALSE(f->data.empty());
  }

  TEST_CASE("offset_for_time.finds_the_first_batch_at_or_after") {
    OneReplica one;
    REQUIRE(one.replica->produce(batch_of(0, 10), Acks::all, 5s).ok());
    REQUIRE(one.replica->produce(batch_of(10, 10), Acks::all, 5s).ok());
    Result<std::uint64_t> at = one.replica->offset_for_time(1015);
    REQUIRE(at.ok());
    CHECK(*at == 10);  // batch granularity: the batch holding 1015
    CHECK(*one.replica->offset_for_time(999999) == 20);
  }

  TEST_CASE("produce.acks_none_applies_the_idempotent_sequence_check") {
    OneReplica one;
    const std::string b0 = batch_of(0, 3, 91, 0);
    Result<ProduceAck> first = one.replica->produce(b0, Acks::none, 5s);
    REQUIRE(first.ok());
    CHECK_FALSE(first->duplicate);
    // A retry is a duplicate, not a second copy.
    Result<ProduceAck> again = one.replica->produce(b0, Acks::none, 5s);
    REQUIRE(again.ok());
    CHECK(again->duplicate);
    // The next sequence goes on at once (the first is already in the
    // producer's view); a gap is refused.
    REQUIRE(one.replica->produce(batch_of(3, 2, 91, 3), Acks::none, 5s).ok());
    Result<ProduceAck> gap =
        one.replica->produce(batch_of(5, 1, 91, 7), Acks::none, 5s);
    REQUIRE_FALSE(gap.ok());
    CHECK(gap.error().code == Code::failed_precondition);
    REQUIRE(testsupport::wait_until(
        [&] { return one.replica->high_watermark() == 5; }, 5s, "hw 5"));
    Result<FetchResult> f = one.replica->fetch(0, 1 << 20, 0ms);
    REQUIRE(f.ok());
    Result<std::vector<std::string_view>> batches =
        records::split_batches(f->data);
    REQUIRE(batches.ok());
    CHECK(batches->size() == 2);
    // Without a producer id, acks=none stays fire-and-forget.
    Result<ProduceAck> plain =
        one.replica->produce(batch_of(9, 1), Acks::none, 5s);
    REQUIRE(plain.ok());
    CHECK(plain->count == 1);
  }

  TEST_CASE("retention.deletes_a_quiet_partitions_data_past_segment_ms") {
    OneReplica one([](ReplicaOptions& o) {
      o.segment_ms = 200;
      o.retention_ms = 1000;  // the records are stamped in 1970
    });
    REQUIRE(one.replica->produce(batch_of(0, 3), Acks::all, 5s).ok());
    REQUIRE(one.replica->produce(batch_of(3, 2), Acks::all, 5s).ok());
    REQUIRE(testsupport::wait_until(
        [&] { return one.replica->high_watermark() == 5; }, 5s, "hw 5"));
    // Nothing is written any more: the active segment ages past
    // segment_ms and retention deletes it.
    REQUIRE(testsupport::wait_until(
        [&] { return one.replica->start_offset() == 5; }, 20s,
        "start offset 5"));
    CHECK(one.replica->status().size_bytes == 0);
    CHECK(one.replica->fetch(0, 1024, 0ms).error().code ==
          Code::failed_precondition);
    // The partition goes on where it was.
    Result<ProduceAck> next =
        one.replica->produce(batch_of(5, 1), Acks::all, 5s);
    REQUIRE(next.ok());
    CHECK(next->base_offset == 5);
    REQUIRE(testsupport::wait_until(
        [&] { return one.replica->high_watermark() == 6; }, 5s, "hw 6"));
    Result<FetchResult> f = one.replica->fetch(5, 1024, 0ms);
    REQUIRE(f.ok());
    CHECK(f->next_offset == 6);
  }

  TEST_CASE("status.in_sync_drops_a_follower_that_stops_answering") {
    ThreeReplicas three;
    REQUIRE(testsupport::wait_until([&] { return three.leader() >= 0; }, 10s,
                                    "a leader"));
    const int lead = three.leader();
    REQUIRE(three.replicas[lead]->produce(batch_of(0, 2), Acks::all, 5s).ok());
    REQUIRE(testsupport::wait_until(
        [&] { return three.replicas[lead]->status().in_sync.size() == 3; }, 10s,
        "all three in sync"));
    const int dead = (lead + 1) % 3;
    three.replicas[dead]->stop();
    three.transports[dead]->stop();
    const raft::NodeId dead_id(dead + 1);
    // Idle partition: the dead follower's log is as long as the leader's,
    // but it no longer answers.
    ReplicaStatus st;
    REQUIRE(testsupport::wait_until(
        [&] {
          st = three.replicas[lead]->status();
          return st.leader && st.in_sync.size() == 2;
        },
        10s, "the stopped follower out of sync"));
    CHECK(std::find(st.in_sync.begin(), st.in_sync.end(), dead_id) ==
          st.in_sync.end());
    CHECK(st.match.at(dead_id) + 64 >= st.last_index);
    // The live follower stays in sync.
    const raft::NodeId live_id((lead + 2) % 3 + 1);
    CHECK(std::find(st.in_sync.begin(), st.in_sync.end(), live_id) !=
          st.in_sync.end());
  }
}

}  // namespace nw::partition
