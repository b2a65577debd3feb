#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "agent/controller/cluster_state.h"
#include "agent/raft/byte_io.h"
#include "agent/raft/rand.h"
#include "common/config/job_codec.h"
#include "common/config/job_spec.h"

// ClusterState's jobs, runs, missed slots and locks (put_job ..
// release_lock) and the snapshot sections (version 3) that hold them.
namespace nw::controller {
namespace {

using State = RunRecord::State;

RegisterNode reg(std::string id, std::uint64_t raft_id) {
  RegisterNode c;
  c.node.id = std::move(id);
  c.node.raft_id = raft::NodeId(raft_id);
  c.node.api_addr = "127.0.0.1:" + std::to_string(7000 + raft_id);
  c.node.peer_addr = "127.0.0.1:" + std::to_string(8000 + raft_id);
  return c;
}

// The canonical JSON of a valid shell job `name` running `command`.
std::string spec(const std::string& name, const std::string& command = "true",
                 bool enabled = true) {
  config::JobSpec j;
  j.name = name;
  j.shell = command;
  j.schedule = "@every 10s";
  j.enabled = enabled;
  return config::encode_job(j);
}

// Applies `c` as the next entry of `s`; returns the command's status.
Status apply_next(ClusterState* s, const Command& c) {
  auto r = s->apply(s->applied_index() + 1, encode_command(c));
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  return std::move(r->status);
}

// Applies `c` and requires it to succeed.
void ok(ClusterState* s, const Command& c) {
  Status st = apply_next(s, c);
  REQUIRE_MESSAGE(st.ok(), st.error().to_string());
}

// Checks that `c` is rejected with `code`, changing nothing but the index;
// returns the message.
std::string expect_rejected(ClusterState* s, const Command& c, Code code) {
  const raft::LogIndex index = s->applied_index() + 1;
  const std::string before = s->snapshot();
  const std::uint64_t version = s->version();
  auto r = s->apply(index, encode_command(c));
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->status.ok());
  CHECK_MESSAGE(r->status.error().code == code, r->status.error().message);
  CHECK_FALSE(r->changed);
  CHECK(s->applied_index() == index);
  CHECK(s->version() == version);
  // The state, header aside (applied index at byte 1), is unchanged.
  CHECK(s->snapshot().substr(9) == before.substr(9));
  return r->status.error().message;
}

// A state with agents a, b and job "report".
ClusterState with_job() {
  ClusterState s;
  ok(&s, reg("a", 1));
  ok(&s, reg("b", 2));
  ok(&s, PutJob{"report", spec("report")});
  return s;
}

// Creates a run of "report" for `slot` on `agent`; returns its run id.
std::uint64_t create(ClusterState* s, std::int64_t slot,
                     std::uint32_t attempt = 1, std::string agent = "a",
                     std::uint32_t shard = 0, std::uint32_t shards = 1) {
  ok(s, CreateRun{"report", slot, attempt, std::move(agent), shard, shards,
                  slot + 30'000, slot});
  return s->applied_index().value();
}

UpdateRun start(std::uint64_t id, std::int64_t at) {
  return UpdateRun{id, id, State::running, 0, "", at, 0, at + 30'000};
}

UpdateRun finish(std::uint64_t id, State state, std::int32_t code,
                 std::int64_t at) {
  return UpdateRun{id, id, state, code, "done", 0, at, 0};
}

TEST_SUITE("controller.cluster_state") {
  TEST_CASE("put_job.adds_replaces_and_keeps_history") {
    ClusterState s = with_job();
    const JobRecord* j = s.job("report");
    REQUIRE(j != nullptr);
    CHECK(j->name == "report");
    CHECK(j->spec_json == spec("report"));
    CHECK(j->version == 1);
    CHECK(j->enabled);
    CHECK(j->last_slot_ms == 0);
    CHECK(j->created_index == raft::LogIndex(3));
    REQUIRE(s.missed("report") != nullptr);
    CHECK(s.missed("report")->empty());
    const std::uint64_t run = create(&s, 10'000);
    ok(&s, RecordMissed{"report", 20'000, "job paused"});
    // The same spec again changes nothing.
    const std::uint64_t v = s.version();
    ok(&s, PutJob{"report", spec("report"), 7000});
    CHECK(s.version() == v);
    CHECK(s.job("report")->version == 1);
    CHECK(s.job("report")->changed_ms == 0);
    // A new spec replaces it and keeps its history; its change time is
    // the command's.
    ok(&s, PutJob{"report", spec("report", "echo hi", false), 9000});
    j = s.job("report");
    CHECK(j->version == 2);
    CHECK(j->changed_ms == 9000);
    CHECK_FALSE(j->enabled);
    CHECK(j->spec_json == spec("report", "echo hi", false));
    CHECK(j->created_index == raft::LogIndex(3));
    CHECK(j->last_slot_ms == 20'000);
    CHECK(s.missed("report")->size() == 1);
    REQUIRE(s.runs_of("report").size() == 1);
    CHECK(s.runs_of("report")[0]->run_id == run);
    CHECK(s.jobs().size() == 1);
  }

  TEST_CASE("put_job.rejects_bad_specs") {
    ClusterState s = with_job();
    expect_rejected(&s, PutJob{"a b", spec("report")}, Code::invalid_argument);
    expect_rejected(&s, PutJob{"x", "{not json"}, Code::invalid_argument);
    expect_rejected(&s, PutJob{"x", R"({"name":"x"})"}, Code::invalid_argument);
    CHECK(expect_rejected(&s, PutJob{"other", spec("report")},
                          Code::invalid_argument)
              .find("names job") != std::string::npos);
    // Valid but not canonical: the same JSON with a space.
    std::string loose = spec("x");
    loose.insert(1, " ");
    CHECK(expect_rejected(&s, PutJob{"x", loose}, Code::invalid_argument)
              .find("canonical") != std::string::npos);
    CHECK(s.job("x") == nullptr);
  }

  TEST_CASE("delete_job.and_set_job_enabled") {
    ClusterState s = with_job();
    expect_rejected(&s, DeleteJob{"nope"}, Code::not_found);
    expect_rejected(&s, SetJobEnabled{"nope", false}, Code::not_found);
    ok(&s, SetJobEnabled{"report", false});
    CHECK_FALSE(s.job("report")->enabled);
    CHECK(s.job("report")->version == 1);
    expect_rejected(&s, CreateRun{"report", 1, 1, "a", 0, 1, 2, 1},
                    Code::failed_precondition);
    ok(&s, SetJobEnabled{"report", true});
    const std::uint64_t done = create(&s, 1000);
    ok(&s, start(done, 1001));
    ok(&s, finish(done, State::succeeded, 0, 1002));
    const std::uint64_t open = create(&s, 2000);
    ok(&s, DeleteJob{"report"});
    CHECK(s.job("report") == nullptr);
    CHECK(s.missed("report") == nullptr);
    // The finished run went with the job; the unfinished one stays until it
    // finishes, and its agent can still report.
    CHECK(s.run(done) == nullptr);
    REQUIRE(s.run(open) != nullptr);
    CHECK(s.unfinished_runs().size() == 1);
    ok(&s, start(open, 2001));
    CHECK(s.run(open)->state == State::running);
    // When it finishes it goes too, and the state still restores.
    ok(&s, finish(open, State::succeeded, 0, 2002));
    CHECK(s.run(open) == nullptr);
    CHECK(s.runs().empty());
    auto restored = ClusterState::restore(s.snapshot());
    REQUIRE_MESSAGE(restored.ok(), restored.error().to_string());
    expect_rejected(&s, CreateRun{"report", 3000, 1, "a", 0, 1, 3001, 3000},
                    Code::not_found);
  }

  TEST_CASE("create_run.ids_are_log_indexes_and_slots_unique") {
    ClusterState s = with_job();
    const std::uint64_t r1 = create(&s, 10'000);
    CHECK(r1 == s.applied_index().value());
    const RunRecord* r = s.run(r1);
    REQUIRE(r != nullptr);
    CHECK(r->run_id == r1);
    CHECK(r->fencing_token == r1);
    CHECK(r->state == State::dispatched);
    CHECK(r->job == "report");
    CHECK(r->slot_ms == 10'000);
    CHECK(r->attempt == 1);
    CHECK(r->agent == "a");
    CHECK(r->created_ms == 10'000);
    CHECK(r->lease_until_ms == 40'000);
    CHECK(s.job("report")->last_slot_ms == 10'000);
    // The same slot, shard and attempt again: a new leader retrying.
    CHECK(expect_rejected(
              &s, CreateRun{"report", 10'000, 1, "b", 0, 1, 40'000, 10'000},
              Code::conflict)
              .find("exists as run " + std::to_string(r1)) !=
          std::string::npos);
    // Shards of one slot are distinct runs.
    const std::uint64_t s0 = create(&s, 20'000, 1, "a", 0, 2);
    const std::uint64_t s1 = create(&s, 20'000, 1, "b", 1, 2);
    CHECK(s0 < s1);
    // A slot before the last scheduled one is refused.
    expect_rejected(&s,
                    CreateRun{"report", 15'000, 1, "a", 0, 1, 40'000, 15'000},
                    Code::conflict);
    CHECK(s.runs_of("report").size() == 3);
    CHECK(s.runs().size() == 3);
    CHECK(s.unfinished_runs().size() == 3);
    CHECK(s.runs_of("other").empty());
  }

  TEST_CASE("create_run.rejects_bad_fields") {
    ClusterState s = with_job();
    ok(&s, SetState{"b", NodeRecord::State::left});
    expect_rejected(&s, CreateRun{"nope", 1, 1, "a", 0, 1, 2, 1},
                    Code::not_found);
    expect_rejected(&s, CreateRun{"report", 1, 1, "zz", 0, 1, 2, 1},
                    Code::not_found);
    expect_rejected(&s, CreateRun{"report", 1, 1, "b", 0, 1, 2, 1},
                    Code::failed_precondition);
    expect_rejected(&s, CreateRun{"report", 1, 0, "a", 0, 1, 2, 1},
                    Code::invalid_argument);
    expect_rejected(&s, CreateRun{"report", 1, 1, "a", 1, 1, 2, 1},
                    Code::invalid_argument);
    expect_rejected(&s, CreateRun{"report", 1, 1, "a", 0, 0, 2, 1},
                    Code::invalid_argument);
    expect_rejected(&s, CreateRun{"report", 1, 1, "a", 0, 1, 1, 1},
                    Code::invalid_argument);
    expect_rejected(&s,
                    CreateRun{"report", 1, 1, "a", 0, 1, 2 + kMaxLeaseMs, 1},
                    Code::invalid_argument);
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    expect_rejected(&s, CreateRun{"report", 1, 1, "a", 0, 1, kMax, kMin},
                    Code::invalid_argument);
    // A retry needs a failed, timed out or lost previous attempt.
    expect_rejected(&s, CreateRun{"report", 1, 2, "a", 0, 1, 2, 1},
                    Code::failed_precondition);
  }

  TEST_CASE("update_run.transitions_and_fencing") {
    ClusterState s = with_job();
    const std::uint64_t id = create(&s, 1000);
    // A stale fencing token is refused.
    UpdateRun stale = start(id, 1001);
    stale.fencing_token = id - 1;
    CHECK(expect_rejected(&s, stale, Code::failed_precondition)
              .find("stale fencing token") != std::string::npos);
    expect_rejected(&s, start(id + 100, 1), Code::not_found);
    // A queued run renews its lease and stays dispatched.
    ok(&s, UpdateRun{id, id, State::dispatched, 0, "", 0, 0, 35'000});
    CHECK(s.run(id)->state == State::dispatched);
    CHECK(s.run(id)->lease_until_ms == 35'000);
    ok(&s, start(id, 1001));
    expect_rejected(&s, UpdateRun{id, id, State::dispatched, 0, "", 0, 0, 0},
                    Code::invalid_argument);
    CHECK(s.run(id)->state == State::running);
    CHECK(s.run(id)->started_ms == 1001);
    CHECK(s.run(id)->lease_until_ms == 31'001);
    // Renewing the lease keeps started_ms.
    ok(&s, UpdateRun{id, id, State::running, 0, "", 99, 0, 61'001});
    CHECK(s.run(id)->started_ms == 1001);
    CHECK(s.run(id)->lease_until_ms == 61'001);
    ok(&s, finish(id, State::failed, 3, 5000));
    const RunRecord& r = *s.run(id);
    CHECK(r.state == State::failed);
    CHECK(r.exit_code == 3);
    CHECK(r.reason == "done");
    CHECK(r.ended_ms == 5000);
    CHECK(r.finished());
    CHECK(s.unfinished_runs().empty());
    // A finished run never changes.
    expect_rejected(&s, finish(id, State::succeeded, 0, 6000),
                    Code::failed_precondition);
    expect_rejected(&s, start(id, 6000), Code::failed_precondition);
    expect_rejected(&s, finish(id, State::lost, 0, kMaxLeaseMs),
                    Code::failed_precondition);
    // A retry of the failed attempt, elsewhere.
    const std::uint64_t retry = create(&s, 1000, 2, "b");
    CHECK(s.run(retry)->attempt == 2);
    expect_rejected(&s, CreateRun{"report", 1000, 2, "a", 0, 1, 1001, 1000},
                    Code::conflict);
    // Every terminal state is reachable from running.
    for (State end : {State::succeeded, State::timed_out, State::cancelled}) {
      const std::uint64_t n = create(&s, 10'000 + static_cast<int>(end));
      ok(&s, start(n, 1));
      ok(&s, finish(n, end, 0, 2));
      CHECK(s.run(n)->state == end);
    }
  }

  TEST_CASE("update_run.lost_after_the_lease") {
    ClusterState s = with_job();
    const std::uint64_t id = create(&s, 1000);  // lease until 31'000
    ok(&s, start(id, 1001));                    // lease until 31'001
    // The leader's clock says the lease has not expired: refused.
    expect_rejected(
        &s, UpdateRun{id, id, State::lost, 0, "lease expired", 0, 31'000, 0},
        Code::failed_precondition);
    ok(&s, UpdateRun{id, id, State::lost, 0, "lease expired", 0, 31'001, 0});
    CHECK(s.run(id)->state == State::lost);
    CHECK(s.run(id)->reason == "lease expired");
    // The stale runner's late success is refused.
    expect_rejected(&s, finish(id, State::succeeded, 0, 40'000),
                    Code::failed_precondition);
    // Lost is retried elsewhere; a dispatched run can be lost too.
    const std::uint64_t retry = create(&s, 1000, 2, "b");
    ok(&s, UpdateRun{retry, retry, State::lost, 0, "never started", 0,
                     kMaxLeaseMs, 0});
    CHECK(s.run(retry)->state == State::lost);
    const std::uint64_t third = create(&s, 1000, 3, "a");
    CHECK(s.run(third)->state == State::dispatched);
  }

  TEST_CASE("update_run.a_short_run_is_reported_once_at_its_end") {
    ClusterState s = with_job();
    const std::uint64_t id = create(&s, 1000);
    UpdateRun done = finish(id, State::succeeded, 0, 1002);
    done.started_ms = 1001;
    ok(&s, done);
    CHECK(s.run(id)->state == State::succeeded);
    CHECK(s.run(id)->started_ms == 1001);
    CHECK(s.run(id)->ended_ms == 1002);
    CHECK(s.unfinished_runs().empty());
    CHECK(s.unfinished_of_job("report") == 0);
    CHECK(s.unfinished_on("a") == nullptr);
    // A run cancelled while it waited for a worker never started.
    const std::uint64_t waiting = create(&s, 2000);
    CHECK(s.unfinished_runs().size() == 1);
    CHECK(s.unfinished_of_job("report") == 1);
    REQUIRE(s.unfinished_on("a") != nullptr);
    CHECK(*s.unfinished_on("a") == std::set<std::uint64_t>{waiting});
    CHECK(s.unfinished_per_agent().at("a") == 1);
    ok(&s, finish(waiting, State::cancelled, 0, 2001));
    CHECK(s.run(waiting)->started_ms == 0);
    CHECK(s.unfinished_runs().empty());
  }

  TEST_CASE("report_runs.applies_each_and_skips_the_refused") {
    ClusterState s = with_job();
    const std::uint64_t a = create(&s, 1000);
    const std::uint64_t b = create(&s, 2000);
    UpdateRun done_a = finish(a, State::succeeded, 0, 1500);
    done_a.started_ms = 1100;
    UpdateRun stale_b = finish(b, State::failed, 1, 2500);
    stale_b.fencing_token = b + 1;  // refused: not b's token
    UpdateRun unknown = finish(b + 100, State::failed, 1, 2500);
    ok(&s, ReportRuns{{done_a, stale_b, unknown}});
    CHECK(s.run(a)->state == State::succeeded);
    CHECK(s.run(a)->started_ms == 1100);
    CHECK(s.run(b)->state == State::dispatched);
    CHECK(s.unfinished_runs().size() == 1);
    // The same again: a finished run refuses, nothing changes.
    const std::uint64_t v = s.version();
    ok(&s, ReportRuns{{done_a}});
    CHECK(s.version() == v);
  }

  TEST_CASE("create_run.manual_runs_leave_the_schedule_alone") {
    ClusterState s = with_job();
    ok(&s, CreateRun{"report", 5000, 1, "a", 0, 1, 40'000, 5000});
    // By hand, at a time before the last scheduled slot: accepted, and
    // last_slot_ms stays.
    CreateRun manual{"report", 4000, 1, "a", 0, 1, 40'000, 4000};
    manual.manual = true;
    ok(&s, manual);
    CHECK(s.job("report")->last_slot_ms == 5000);
    const RunRecord* r = s.run(s.applied_index().value());
    REQUIRE(r != nullptr);
    CHECK(r->manual);
    // A paused job runs by hand, not by schedule.
    ok(&s, SetJobEnabled{"report", false});
    expect_rejected(&s, CreateRun{"report", 9000, 1, "a", 0, 1, 40'000, 9000},
                    Code::failed_precondition);
    manual.slot_ms = 9000;
    ok(&s, manual);
    // The flag survives a snapshot.
    auto back = ClusterState::restore(s.snapshot());
    REQUIRE(back.ok());
    CHECK(back->run(r->run_id)->manual);
    CHECK(back->unfinished_runs().size() == s.unfinished_runs().size());
    CHECK(back->unfinished_of_job("report") == s.unfinished_of_job("report"));
    CHECK(back->unfinished_per_agent() == s.unfinished_per_agent());
  }

  TEST_CASE("jobs_version.moves_with_job_changes_only") {
    ClusterState s = with_job();
    const std::uint64_t v0 = s.jobs_version();
    CHECK(v0 != 0);
    ok(&s, CreateRun{"report", 5000, 1, "a", 0, 1, 40'000, 5000});
    CHECK(s.jobs_version() == v0);
    ok(&s, SetJobEnabled{"report", false});
    const std::uint64_t v1 = s.jobs_version();
    CHECK(v1 != v0);
    auto back = ClusterState::restore(s.snapshot());
    REQUIRE(back.ok());
    CHECK(back->jobs_version() != v1);
  }

  TEST_CASE("update_run.keeps_the_last_50_finished_runs") {
    ClusterState s = with_job();
    const std::uint64_t open = create(&s, 1);  // never finishes
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < static_cast<int>(kMaxFinishedRunsPerJob) + 5; ++i) {
      const std::uint64_t id = create(&s, 1000 + i);
      ok(&s, start(id, 1));
      ok(&s, finish(id, State::succeeded, 0, 2));
      ids.push_back(id);
    }
    const auto runs = s.runs_of("report");
    CHECK(runs.size() == kMaxFinishedRunsPerJob + 1);
    CHECK(runs.front()->run_id == open);
    CHECK(runs[1]->run_id == ids[5]);
    CHECK(runs.back()->run_id == ids.back());
    for (int i = 0; i < 5; ++i) CHECK(s.run(ids[i]) == nullptr);
    CHECK(s.run(open) != nullptr);
    // A dropped run's slot still cannot run again.
    expect_rejected(&s, CreateRun{"report", 1000, 1, "a", 0, 1, 2000, 1000},
                    Code::conflict);
  }

  TEST_CASE("record_missed.keeps_the_last_1000") {
    ClusterState s = with_job();
    expect_rejected(&s, RecordMissed{"nope", 1, "job paused"}, Code::not_found);
    expect_rejected(&s, RecordMissed{"report", 1, ""}, Code::invalid_argument);
    for (int i = 1; i <= 1005; ++i) {
      ok(&s, RecordMissed{"report", i * 1000,
                          "leader down past starting_deadline"});
    }
    const MissedSlots& m = *s.missed("report");
    CHECK(m.size() == kMaxMissedPerJob);
    CHECK(m.front().slot_ms == 6000);
    CHECK(m.back().slot_ms == 1'005'000);
    CHECK(m.back().reason == "leader down past starting_deadline");
    CHECK(s.job("report")->last_slot_ms == 1'005'000);
    expect_rejected(&s, RecordMissed{"report", 5000, "job paused"},
                    Code::conflict);
    // The same slot as the last one (another shard's miss) is fine.
    ok(&s, RecordMissed{"report", 1'005'000,
                        "concurrency=forbid: previous run still running"});
  }

  TEST_CASE("acquire_lock.grant_conflict_expiry_renew_release") {
    ClusterState s;
    ok(&s, AcquireLock{"deploy", "h1", 30'000, 1000});
    const std::uint64_t t1 = s.applied_index().value();
    const LockRecord* l = s.lock("deploy");
    REQUIRE(l != nullptr);
    CHECK(l->name == "deploy");
    CHECK(l->holder == "h1");
    CHECK(l->token == t1);
    CHECK(l->deadline_ms == 31'000);
    // Another holder while it is held.
    expect_rejected(&s, AcquireLock{"deploy", "h2", 30'000, 30'999},
                    Code::conflict);
    // The same holder again renews, keeping the token.
    ok(&s, AcquireLock{"deploy", "h1", 30'000, 2000});
    CHECK(s.lock("deploy")->token == t1);
    CHECK(s.lock("deploy")->deadline_ms == 32'000);
    // Renew and its refusals.
    ok(&s, RenewLock{"deploy", "h1", t1, 3000, 10'000});
    CHECK(s.lock("deploy")->deadline_ms == 13'000);
    expect_rejected(&s, RenewLock{"deploy", "h1", t1 + 1, 3000, 10'000},
                    Code::failed_precondition);
    expect_rejected(&s, RenewLock{"deploy", "h2", t1, 3000, 10'000},
                    Code::failed_precondition);
    expect_rejected(&s, RenewLock{"nope", "h1", t1, 3000, 10'000},
                    Code::not_found);
    expect_rejected(&s, RenewLock{"deploy", "h1", t1, 3000, 0},
                    Code::invalid_argument);
    // Expired by the command's clock: renewing fails, another holder gets
    // it with a new, larger token.
    expect_rejected(&s, RenewLock{"deploy", "h1", t1, 13'000, 10'000},
                    Code::failed_precondition);
    ok(&s, AcquireLock{"deploy", "h2", 5000, 13'000});
    const std::uint64_t t2 = s.applied_index().value();
    CHECK(t2 > t1);
    CHECK(s.lock("deploy")->holder == "h2");
    CHECK(s.lock("deploy")->token == t2);
    // The old holder's release is stale.
    CHECK(expect_rejected(&s, ReleaseLock{"deploy", "h1", t1},
                          Code::failed_precondition)
              .find("stale fencing token") != std::string::npos);
    ok(&s, ReleaseLock{"deploy", "h2", t2});
    CHECK(s.lock("deploy") == nullptr);
    expect_rejected(&s, ReleaseLock{"deploy", "h2", t2}, Code::not_found);
    // Bad fields.
    expect_rejected(&s, AcquireLock{"a b", "h", 1, 1}, Code::invalid_argument);
    expect_rejected(&s, AcquireLock{"x", "", 1, 1}, Code::invalid_argument);
    expect_rejected(&s, AcquireLock{"x", "h", 0, 1}, Code::invalid_argument);
    expect_rejected(&s, AcquireLock{"x", "h", kMaxLeaseMs + 1, 1},
                    Code::invalid_argument);
    expect_rejected(
        &s,
        AcquireLock{"x", "h", 10, std::numeric_limits<std::int64_t>::max() - 5},
        Code::invalid_argument);
    CHECK(s.locks().empty());
  }

  TEST_CASE("snapshot.round_trips_jobs_runs_and_locks") {
    ClusterState s = with_job();
    ok(&s, PutJob{"backup", spec("backup", "tar c /", false)});
    const std::uint64_t a = create(&s, 1000);
    ok(&s, start(a, 1001));
    ok(&s, finish(a, State::failed, -9, 1500));
    const std::uint64_t b = create(&s, 1000, 2, "b");
    ok(&s, start(b, 1600));
    create(&s, 2000, 1, "a", 0, 2);
    ok(&s, RecordMissed{"report", 3000, "job paused"});
    ok(&s, AcquireLock{"deploy", "h1", 30'000, 1000});
    ok(&s, AcquireLock{"migrate", "h2", 30'000, 1000});
    const std::string snap = s.snapshot();
    CHECK(static_cast<std::uint8_t>(snap[0]) == 3);
    auto r = ClusterState::restore(snap);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->jobs() == s.jobs());
    CHECK(r->runs() == s.runs());
    CHECK(r->locks() == s.locks());
    CHECK(*r->missed("report") == *s.missed("report"));
    CHECK(r->run(a)->exit_code == -9);
    CHECK(r->snapshot() == snap);
    // The restored state goes on like the original, indexes included.
    for (ClusterState* x : {&s, &*r}) {
      expect_rejected(x, CreateRun{"report", 1000, 2, "a", 0, 1, 2000, 1000},
                      Code::conflict);
      ok(x, finish(b, State::succeeded, 0, 1700));
      create(x, 4000);
    }
    CHECK(r->snapshot() == s.snapshot());
    // Every truncation fails cleanly.
    for (std::size_t n = 0; n < snap.size(); ++n) {
      auto t = ClusterState::restore(std::string_view(snap).substr(0, n));
      REQUIRE_FALSE(t.ok());
      CHECK(t.error().code == Code::corruption);
    }
  }

  TEST_CASE("restore.damaged_version_3_bytes_never_crash") {
    ClusterState s = with_job();
    const std::uint64_t a = create(&s, 1000);
    ok(&s, start(a, 1001));
    ok(&s, RecordMissed{"report", 3000, "job paused"});
    ok(&s, AcquireLock{"deploy", "h1", 30'000, 1000});
    const std::string snap = s.snapshot();
    raft::Rng rng(77);
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string bytes = snap;
      const int flips = static_cast<int>(rng.between(1, 3));
      for (int f = 0; f < flips; ++f) {
        bytes[rng.uniform(bytes.size())] = static_cast<char>(rng.uniform(256));
      }
      auto r = ClusterState::restore(bytes);
      if (r.ok()) {
        ++accepted;
        CHECK(r->snapshot() == bytes);
      } else {
        CHECK(r.error().code == Code::corruption);
      }
    }
    CHECK(accepted > 0);
  }

  TEST_CASE("restore.reads_a_version_2_snapshot") {
    // A version 2 snapshot: no nodes, next topic id 1, no topics, no
    // groups (docs/formats/controller-commands.md).
    std::string v2;
    raft::put_u8(&v2, 2);
    raft::put_u64(&v2, 9);  // applied index
    raft::put_u64(&v2, 4);  // version
    raft::put_u32(&v2, 0);  // nodes
    raft::put_u64(&v2, 1);  // next topic id
    raft::put_u32(&v2, 0);  // topics
    raft::put_u32(&v2, 0);  // groups
    auto r = ClusterState::restore(v2);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    CHECK(r->applied_index() == raft::LogIndex(9));
    CHECK(r->jobs().empty());
    CHECK(r->runs().empty());
    CHECK(r->locks().empty());
    const std::string v3 = r->snapshot();
    CHECK(static_cast<std::uint8_t>(v3[0]) == 3);
    CHECK(v3.substr(1, v2.size() - 1) == v2.substr(1));
    CHECK(v3.size() == v2.size() + 12);
    // A version 2 snapshot followed by version 3 sections is refused.
    std::string mixed = v3;
    mixed[0] = 2;
    auto bad = ClusterState::restore(mixed);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("trailing bytes: 12") != std::string::npos);
    // The restored state takes job commands.
    ok(&*r, reg("a", 1));
    ok(&*r, PutJob{"report", spec("report")});
    CHECK(r->job("report")->created_index == raft::LogIndex(11));
  }

  TEST_CASE("apply.job_commands_are_deterministic") {
    raft::Rng rng(5);
    std::vector<std::string> cmds;
    cmds.push_back(encode_command(reg("a", 1)));
    cmds.push_back(encode_command(reg("b", 2)));
    std::int64_t now = 1000;
    for (int i = 0; i < 3000; ++i) {
      now += static_cast<std::int64_t>(rng.uniform(2000));
      const std::string job = "j" + std::to_string(rng.uniform(3));
      const std::uint64_t id =
          rng.between(1, static_cast<std::uint64_t>(i + 3));
      const auto state = static_cast<State>(rng.uniform(7));
      const std::string lock = "l" + std::to_string(rng.uniform(2));
      const std::string holder = "h" + std::to_string(rng.uniform(2));
      switch (rng.uniform(10)) {
        case 0:
          cmds.push_back(encode_command(
              PutJob{job, spec(job, "v" + std::to_string(rng.uniform(3)))}));
          break;
        case 1:
          cmds.push_back(encode_command(
              rng.chance(0.5) ? Command(DeleteJob{job})
                              : Command(SetJobEnabled{job, rng.chance(0.7)})));
          break;
        case 2:
        case 3:
          cmds.push_back(encode_command(
              CreateRun{job, now - static_cast<std::int64_t>(rng.uniform(5000)),
                        static_cast<std::uint32_t>(rng.between(1, 2)),
                        rng.chance(0.5) ? "a" : "b", 0, 1, now + 3000, now}));
          break;
        case 4:
        case 5:
          cmds.push_back(
              encode_command(UpdateRun{id, rng.chance(0.9) ? id : id + 1, state,
                                       1, "r", now, now, now + 3000}));
          break;
        case 6:
          cmds.push_back(encode_command(RecordMissed{job, now, "job paused"}));
          break;
        case 7:
          cmds.push_back(encode_command(AcquireLock{lock, holder, 2500, now}));
          break;
        case 8:
          cmds.push_back(
              encode_command(RenewLock{lock, holder, id, now, 2500}));
          break;
        default:
          cmds.push_back(encode_command(ReleaseLock{lock, holder, id}));
          break;
      }
    }
    ClusterState x;
    ClusterState y;
    int accepted = 0;
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      auto rx = x.apply(raft::LogIndex(i + 1), cmds[i]);
      auto ry = y.apply(raft::LogIndex(i + 1), cmds[i]);
      REQUIRE(rx.ok());
      REQUIRE(ry.ok());
      CHECK(rx->status.ok() == ry->status.ok());
      if (rx->status.ok()) ++accepted;
      if (i % 500 == 0) {
        // A replica restored from a snapshot mid-way stays in step.
        auto restored = ClusterState::restore(x.snapshot());
        REQUIRE(restored.ok());
        y = std::move(*restored);
      }
    }
    CHECK(accepted > 300);
    CHECK(x.snapshot() == y.snapshot());
    CHECK_FALSE(x.runs().empty());
  }
}

}  // namespace
}  // namespace nw::controller
