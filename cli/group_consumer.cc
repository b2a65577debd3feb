// `nwctl consume TOPIC --group G`: a consumer-group member. It joins,
// heartbeats on a background thread (GroupSession), fetches the partitions
// the group assigns from their committed offsets, commits after printing
// each batch, follows rebalances and leaves on exit or Ctrl-C.
//
// Delivery is at least once: a batch printed just before a rebalance whose
// commit is refused (stale generation) is read again by the partition's
// new owner.
#include <condition_variable>
#include <iostream>
#include <map>
#include <set>

#include "cli/command_util.h"
#include "cli/consume.h"
#include "cli/group.h"
#include "common/http/client.h"

namespace nw::ctl {
namespace {

constexpr std::uint32_t kRoundWaitMs = 200;

// The membership of this process in one group: member id, generation and
// the assigned partitions of one topic, kept current by a heartbeat
// thread that also rejoins when the coordinator forgot the member.
//
// Lifecycle: join() on the caller's thread, start(), then view() /
// wait_change() from the caller; stop() joins the thread; leave() last.
// Threads: the caller and the heartbeat thread; the state is under mu_.
class GroupSession {
 public:
  struct View {
    std::string member_id;
    std::uint64_t generation = 0;
    std::vector<std::uint32_t> partitions;
  };

  GroupSession(const Globals& globals, Duration timeout, std::string group,
               std::string topic, std::string strategy,
               std::uint64_t session_timeout_ms)
      : globals_(globals),
        timeout_(timeout),
        group_(std::move(group)),
        topic_(std::move(topic)),
        strategy_(std::move(strategy)),
        session_ms_(session_timeout_ms) {}
  ~GroupSession() { stop(); }

  // Joins as a new member. The API's error, with a hint for not_found.
  Status join(http::Client& client) {
    auto resp = client.post(
        path("join"),
        group_join_body("", client_id(), topic_, session_ms_, strategy_));
    if (!resp.ok()) return resp.error().wrap("join group " + group_);
    NW_ASSIGN_OR_RETURN(JoinAnswer a, join_answer_from_json(resp->body));
    std::lock_guard<std::mutex> lock(mu_);
    interval_ = Duration(a.heartbeat_interval_ms);
    apply(a.member_id, a.generation, a.assignment);
    return ok_status();
  }

  void start() {
    thread_ = spawn_thread([this] { heartbeat_loop(); });
  }

  View view() {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }

  // True when `v` is no longer the member's current membership (a new
  // generation, or a new member id after a rejoin).
  static bool changed(const View& now, std::string_view member_id,
                      std::uint64_t generation) {
    return now.generation != generation || now.member_id != member_id;
  }

  // Waits up to d for the membership to differ from (member_id,
  // generation), or a failure.
  void wait_change(std::string_view member_id, std::uint64_t generation,
                   Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [&] {
      return changed(view_, member_id, generation) || failure_ || stopping_ ||
             Interrupt::requested();
    });
  }

  std::optional<Error> failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  // Leaves the group so its partitions move on at once (not after the
  // session timeout). Errors are reported on stderr only.
  void leave(http::Client& client) {
    View v = view();
    if (v.member_id.empty()) return;
    auto resp = client.post(path("leave"), leave_body(v.member_id));
    if (!resp.ok()) {
      std::cerr << "nwctl: leaving group " << group_
                << " failed: " << resp.error().message
                << " (the group drops this member after " << session_ms_ / 1000
                << "s)\n";
    }
  }

  std::string path(std::string_view verb) const {
    return group_path(group_) + "/" + std::string(verb);
  }

 private:
  // REQUIRES: mu_ held.
  void apply(const std::string& member_id, std::uint64_t generation,
             const std::vector<TopicPartition>& assignment) {
    view_.member_id = member_id;
    view_.generation = generation;
    view_.partitions.clear();
    for (const TopicPartition& tp : assignment) {
      if (tp.topic == topic_) view_.partitions.push_back(tp.partition);
    }
    std::sort(view_.partitions.begin(), view_.partitions.end());
    cv_.notify_all();
  }

  void heartbeat_loop() {
    auto made = new_client(globals_, timeout_);
    if (!made.ok()) return fail(made.error());
    std::unique_ptr<http::Client> client = std::move(made).value();
    MonoTime last_ok = mono_now();
    bool warned = false;
    while (true) {
      View v;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, interval_, [&] { return stopping_; });
        if (stopping_) return;
        v = view_;
      }
      auto resp = client->post(path("heartbeat"),
                               heartbeat_body(v.member_id, v.generation));
      if (resp.ok()) {
        auto a = heartbeat_answer_from_json(resp->body);
        if (!a.ok()) return fail(a.error());
        std::lock_guard<std::mutex> lock(mu_);
        if (a->generation != view_.generation || a->assignment) {
          std::vector<TopicPartition> tps;
          if (a->assignment) {
            tps = *a->assignment;
          } else {
            for (auto p : view_.partitions) tps.push_back({topic_, p});
          }
          apply(view_.member_id, a->generation, tps);
        }
        last_ok = mono_now();
        warned = false;
        continue;
      }
      const Error& e = resp.error();
      if (e.code == Code::not_found) {
        // The coordinator does not know us (it moved, or dropped us after
        // the session timeout): join again as a new member.
        std::cerr << "nwctl: group " << group_
                  << " no longer knows this member; rejoining\n";
        auto joined = join(*client);
        if (joined.ok()) {
          last_ok = mono_now();
          continue;
        }
        if (joined.error().code != Code::unavailable &&
            joined.error().code != Code::timeout) {
          return fail(joined.error());
        }
      } else if (e.code != Code::unavailable && e.code != Code::timeout) {
        return fail(e.wrap("heartbeat to group " + group_));
      }
      if (!warned &&
          mono_now() - last_ok > std::chrono::milliseconds(session_ms_)) {
        std::cerr << "nwctl: no heartbeat reached group " << group_ << " for "
                  << session_ms_ / 1000 << "s (" << e.message
                  << "); its partitions may move to other members\n";
        warned = true;
      }
    }
  }

  void fail(Error e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_) failure_ = std::move(e);
    cv_.notify_all();
  }

  const Globals& globals_;
  const Duration timeout_;
  const std::string group_;
  const std::string topic_;
  const std::string strategy_;
  const std::uint64_t session_ms_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  View view_;                     // GUARDED_BY(mu_)
  Duration interval_{3000};       // GUARDED_BY(mu_)
  bool stopping_ = false;         // GUARDED_BY(mu_)
  std::optional<Error> failure_;  // GUARDED_BY(mu_)
};

// The fetch side of one member, on the caller's thread.
class GroupConsumer {
 public:
  GroupConsumer(Context& ctx, const Globals& globals, http::Client& client,
                GroupSession& session, const ConsumeConfig& config)
      : ctx_(ctx),
        client_(client),
        api_(&client, leader_client_factory(globals, ctx.timeout())),
        session_(session),
        config_(config),
        printer_(ctx.output(), config.count) {}

  // Runs until done (without --follow), -n is reached, Ctrl-C or an error.
  Status run() {
    bool first = true;
    while (!Interrupt::requested()) {
      if (auto f = session_.failure()) return *f;
      GroupSession::View v = session_.view();
      if (first || GroupSession::changed(v, member_id_, generation_)) {
        NW_RETURN_IF_ERROR(take(v, first));
        first = false;
      }
      if (positions_.empty()) {
        if (!config_.follow) {
          std::cerr << "nwctl: no partition of " << config_.topic
                    << " is assigned to this member (the group has as many "
                       "members as partitions)\n";
          return ok_status();
        }
        session_.wait_change(member_id_, generation_, Duration(1000));
        continue;
      }
      NW_RETURN_IF_ERROR(round());
      if (printer_.limit_reached()) return ok_status();
      if (!config_.follow && all_done()) return ok_status();
    }
    return ok_status();
  }

  // Commits what failed to commit before (on the way out).
  void final_commit() {
    for (std::uint32_t p : uncommitted_) {
      auto it = positions_.find(p);
      if (it != positions_.end()) (void)commit(p, it->second, false);
    }
  }

 private:
  // Switches to a new assignment: drops lost partitions and finds where
  // to start the new ones (committed offset, else --from).
  Status take(const GroupSession::View& v, bool first) {
    std::set<std::uint32_t> now(v.partitions.begin(), v.partitions.end());
    for (auto it = positions_.begin(); it != positions_.end();) {
      it = now.count(it->first) ? std::next(it) : positions_.erase(it);
    }
    // Progress on partitions this member keeps, whose commit the old
    // generation refused, is committed again in the new one (else the
    // group would show it unread although it was printed).
    std::vector<std::uint32_t> kept_uncommitted;
    for (std::uint32_t p : uncommitted_) {
      if (positions_.count(p)) kept_uncommitted.push_back(p);
    }
    uncommitted_.clear();
    std::vector<std::uint32_t> gained;
    for (std::uint32_t p : now) {
      if (!positions_.count(p)) gained.push_back(p);
    }
    generation_ = v.generation;
    member_id_ = v.member_id;
    for (std::uint32_t p : kept_uncommitted) {
      (void)commit(p, positions_.at(p), true);
    }
    if (!first) {
      std::cerr << "nwctl: group rebalanced (generation " << generation_
                << "): reading partitions "
                << (now.empty() ? std::string("none") : list(now)) << "\n";
    }
    if (gained.empty()) return ok_status();
    std::map<std::uint32_t, std::uint64_t> committed;
    auto resp = client_.get(session_.path("offsets"));
    if (resp.ok()) {
      NW_ASSIGN_OR_RETURN(auto offsets,
                          committed_offsets_from_json(resp->body));
      for (const CommittedOffset& o : offsets) {
        if (o.topic == config_.topic) committed[o.partition] = o.offset;
      }
    } else if (resp.error().code != Code::not_found) {
      return resp.error();
    }
    std::optional<OffsetMap> start;
    for (std::uint32_t p : gained) {
      if (committed.count(p)) {
        positions_[p] = committed[p];
      } else if (config_.from.kind == StartFrom::Kind::offset) {
        positions_[p] = config_.from.offset;
      } else {
        if (!start) {
          NW_ASSIGN_OR_RETURN(
              start, api_.offsets(config_.topic, offsets_query(config_.from)));
        }
        positions_[p] = start->count(p) ? start->at(p) : 0;
      }
    }
    if (!config_.follow) {
      NW_ASSIGN_OR_RETURN(OffsetMap latest,
                          api_.offsets(config_.topic, "latest"));
      for (std::uint32_t p : gained) {
        ends_[p] = latest.count(p) ? latest.at(p) : 0;
      }
    }
    return ok_status();
  }

  static std::string list(const std::set<std::uint32_t>& ps) {
    std::string s;
    for (auto p : ps) s += (s.empty() ? "" : ",") + std::to_string(p);
    return s;
  }

  bool done(std::uint32_t p) const {
    auto e = ends_.find(p);
    return !config_.follow && e != ends_.end() && positions_.at(p) >= e->second;
  }

  bool all_done() const {
    for (const auto& [p, pos] : positions_) {
      if (!done(p)) return false;
    }
    return true;
  }

  // One fetch per assigned partition that is not done.
  Status round() {
    std::size_t active = 0;
    for (const auto& [p, pos] : positions_) active += done(p) ? 0 : 1;
    const std::uint32_t long_wait = long_poll_ms(ctx_.timeout());
    bool got = false;
    const std::uint64_t generation = generation_;
    for (auto& [p, pos] : positions_) {
      if (done(p) || Interrupt::requested()) continue;
      std::uint32_t wait = !config_.follow ? 0
                           : active == 1   ? long_wait
                           : idle_round_   ? std::min(kRoundWaitMs, long_wait)
                                           : 0;
      auto res = api_.fetch(config_.topic, p, pos, config_.max_bytes, wait);
      if (!res.ok()) {
        NW_RETURN_IF_ERROR(fetch_failed(p, pos, res.error()));
        continue;
      }
      failing_ = false;
      std::vector<records::Record>& recs = res->records;
      if (!config_.follow && ends_.count(p)) {
        while (!recs.empty() && recs.back().offset >= ends_[p]) recs.pop_back();
      }
      std::size_t printed = printer_.print(p, recs);
      std::uint64_t next =
          printed < recs.size() ? recs[printed].offset : res->next_offset;
      if (next != pos) {
        pos = next;
        if (!commit(p, pos, true)) {
          // The group moved on: wait for the heartbeat to bring the new
          // assignment instead of reading partitions that may be gone.
          session_.wait_change(
              member_id_, generation,
              std::chrono::milliseconds(config_.session_timeout_ms));
          return ok_status();
        }
      }
      got = got || printed > 0;
      if (printer_.limit_reached()) return ok_status();
      if (GroupSession::changed(session_.view(), member_id_, generation)) {
        return ok_status();
      }
    }
    idle_round_ = !got;
    if (!config_.follow && !got && !all_done()) {
      std::this_thread::sleep_for(Duration(kRoundWaitMs));
    }
    return ok_status();
  }

  // False when the commit was refused because the generation moved.
  bool commit(std::uint32_t p, std::uint64_t offset, bool warn) {
    auto resp = client_.post(
        session_.path("offsets"),
        commit_body(member_id_, generation_, {{config_.topic, p, offset}}));
    if (resp.ok()) {
      uncommitted_.erase(p);
      return true;
    }
    uncommitted_.insert(p);
    if (warn) {
      std::cerr << "nwctl: commit of partition " << p << " offset " << offset
                << " failed: " << resp.error().message
                << (resp.error().code == Code::conflict
                        ? " (the group rebalanced; these messages may be "
                          "delivered again)"
                        : "")
                << "\n";
    }
    return resp.error().code != Code::conflict;
  }

  Status fetch_failed(std::uint32_t p, std::uint64_t& pos, const Error& err) {
    Error e = err.wrap("partition " + std::to_string(p));
    if (e.code == Code::failed_precondition) {
      auto earliest = api_.offsets(config_.topic, "earliest");
      if (earliest.ok() && earliest->count(p) && earliest->at(p) > pos) {
        std::cerr << "nwctl: partition " << p << ": offsets " << pos << " to "
                  << earliest->at(p) - 1
                  << " were deleted by retention; skipping them\n";
        pos = earliest->at(p);
        return ok_status();
      }
      return e;
    }
    if (e.code != Code::unavailable && e.code != Code::timeout) return e;
    if (!failing_) {
      failing_ = true;
      failing_since_ = mono_now();
      std::cerr << "nwctl: " << e.message << "; retrying\n";
    } else if (!config_.follow &&
               mono_now() - failing_since_ > ctx_.timeout()) {
      return e;
    }
    std::this_thread::sleep_for(Duration(500));
    return ok_status();
  }

  Context& ctx_;
  http::Client& client_;
  RecordsApi api_;
  GroupSession& session_;
  const ConsumeConfig& config_;
  RecordPrinter printer_;
  std::string member_id_;
  std::uint64_t generation_ = 0;
  std::map<std::uint32_t, std::uint64_t> positions_;  // next offset to read
  std::map<std::uint32_t, std::uint64_t> ends_;       // without --follow
  std::set<std::uint32_t> uncommitted_;
  bool idle_round_ = false;
  bool failing_ = false;  // in a run of unavailable/timeout errors
  MonoTime failing_since_{};
};

}  // namespace

int run_group_consume(Context& ctx, const Globals& globals,
                      const ConsumeConfig& config) {
  auto client = ctx.client();
  if (!client.ok()) return report(client.error());
  Interrupt interrupt;
  GroupSession session(globals, ctx.timeout(), config.group, config.topic,
                       config.strategy, config.session_timeout_ms);
  if (Status s = session.join(*client.value()); !s.ok()) {
    return report(s.error());
  }
  session.start();
  GroupConsumer consumer(ctx, globals, *client.value(), session, config);
  Status s = consumer.run();
  consumer.final_commit();
  session.stop();
  session.leave(*client.value());
  if (!s.ok()) return report(s.error());
  return 0;
}

}  // namespace nw::ctl
