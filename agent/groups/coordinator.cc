// Coordinator: names, membership, generations and the group views. The
// offset side (commit, fetch, reset, delete) is in coordinator_offsets.cc.
#include "agent/groups/coordinator.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "agent/groups/coordinator_internal.h"

namespace nw::groups {

using internal::group_error;

namespace {

constexpr std::size_t kMaxTopicsPerMember = 1000;
constexpr std::size_t kMaxClientIdLength = 200;
constexpr std::size_t kMaxMemberIdLength = 200;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string rejoin_hint(const std::string& group) {
  return "rejoin the group (POST /v1/groups/" + group + "/join)";
}

}  // namespace

Status validate_name(std::string_view what, std::string_view name) {
  const std::string hint = "names are 1 to 200 characters of A-Z a-z 0-9 . _ -";
  if (name.empty()) {
    return group_error(Code::invalid_argument,
                       std::string(what) + " name is empty", hint);
  }
  if (name.size() > kMaxNameLength) {
    return group_error(Code::invalid_argument,
                       std::string(what) + " name is " +
                           std::to_string(name.size()) +
                           " characters long: the limit is 200",
                       hint);
  }
  for (char c : name) {
    if (!name_char(c)) {
      return group_error(Code::invalid_argument,
                         std::string(what) + " name " + quoted(name) +
                             ": character " + quoted(std::string(1, c)) +
                             " is not allowed",
                         hint);
    }
  }
  return ok_status();
}

std::string_view to_string(Strategy s) {
  return s == Strategy::range ? "range" : "roundrobin";
}

std::optional<Strategy> strategy_from_string(std::string_view s) {
  if (s == "range") return Strategy::range;
  if (s == "roundrobin") return Strategy::roundrobin;
  return std::nullopt;
}

std::string_view to_string(GroupState s) {
  switch (s) {
    case GroupState::stable:
      return "stable";
    case GroupState::rebalancing:
      return "rebalancing";
    case GroupState::empty:
      return "empty";
  }
  return "empty";
}

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)), rng_(std::random_device{}()) {
  NW_ASSERT(options_.now && options_.partition_count && options_.commit &&
                options_.committed && options_.groups_with_offsets &&
                options_.offsets_range && options_.delete_offsets,
            "CoordinatorOptions: a required function is missing");
}

Result<JoinResult> Coordinator::join(const std::string& group,
                                     const JoinRequest& request) {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  if (request.topics.empty()) {
    return group_error(Code::invalid_argument, "join: no topics to read",
                       "name at least one topic in \"topics\"");
  }
  if (request.topics.size() > kMaxTopicsPerMember) {
    return group_error(Code::invalid_argument,
                       "join: " + std::to_string(request.topics.size()) +
                           " topics: the limit is " +
                           std::to_string(kMaxTopicsPerMember));
  }
  if (request.session_timeout < kMinSessionTimeout ||
      request.session_timeout > kMaxSessionTimeout) {
    return group_error(
        Code::invalid_argument,
        "join: session timeout of " +
            std::to_string(request.session_timeout.count()) +
            " ms is out of range",
        "give session_timeout_ms from 1000 to 300000 (default 10000)");
  }
  if (request.client_id.size() > kMaxClientIdLength) {
    return group_error(Code::invalid_argument,
                       "join: client_id is longer than 200 bytes");
  }
  if (request.member_id.size() > kMaxMemberIdLength) {
    return group_error(Code::invalid_argument,
                       "join: member_id is longer than 200 bytes",
                       "join with the member id the coordinator gave, or \"\"");
  }
  std::vector<std::string> topics = request.topics;
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  for (const std::string& t : topics) {
    NW_RETURN_IF_ERROR(validate_name("topic", t));
    NW_RETURN_IF_ERROR(internal::partition_count(options_, t));
  }

  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = options_.now();
  expire_group(group, now);
  auto [it, created] = groups_.try_emplace(group);
  Group& g = it->second;
  if (created) g.strategy = request.strategy;

  auto known = request.member_id.empty() ? g.members.end()
                                         : g.members.find(request.member_id);
  std::string id;
  if (known != g.members.end()) {
    id = known->first;
    Member& m = known->second;
    m.client_id = request.client_id;
    m.session_timeout = request.session_timeout;
    m.last_seen = now;
    if (m.topics != topics) {
      m.topics = std::move(topics);
      rebalance(g, now, current_counts(g));
    } else {
      check_counts(g, now);
    }
  } else {
    for (int attempt = 0; id.empty() || g.members.contains(id); ++attempt) {
      if (attempt == 100) {
        if (created) groups_.erase(it);
        return group_error(Code::internal,
                           "join: could not pick a unique member id");
      }
      id = make_member_id();
    }
    Member m;
    m.client_id = request.client_id;
    m.topics = std::move(topics);
    m.session_timeout = request.session_timeout;
    m.last_seen = now;
    g.members.emplace(id, std::move(m));
    rebalance(g, now, current_counts(g));
  }
  const Member& m = g.members.at(id);
  JoinResult out;
  out.member_id = id;
  out.generation = g.generation;
  out.assignment = m.assignment;
  out.heartbeat_interval = m.session_timeout / 3;
  out.strategy = g.strategy;
  return out;
}

Result<HeartbeatResult> Coordinator::heartbeat(const std::string& group,
                                               const std::string& member_id,
                                               std::uint64_t generation) {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = options_.now();
  expire_group(group, now);
  auto it = groups_.find(group);
  Member* m = nullptr;
  if (it != groups_.end()) {
    auto found = it->second.members.find(member_id);
    if (found != it->second.members.end()) m = &found->second;
  }
  if (m == nullptr) {
    return group_error(
        Code::not_found,
        "group " + quoted(group) + ": member " + quoted(member_id) +
            " is not a member (its session expired, it left, or the "
            "coordinator moved)",
        rejoin_hint(group));
  }
  Group& g = it->second;
  m->last_seen = now;
  check_counts(g, now);
  HeartbeatResult out;
  out.generation = g.generation;
  out.assignment = m->assignment;
  out.rebalance = generation != g.generation;
  return out;
}

Status Coordinator::leave(const std::string& group,
                          const std::string& member_id) {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = options_.now();
  expire_group(group, now);
  auto it = groups_.find(group);
  if (it == groups_.end() || !it->second.members.erase(member_id)) {
    return group_error(Code::not_found, "group " + quoted(group) + ": member " +
                                            quoted(member_id) +
                                            " is not a member");
  }
  if (it->second.members.empty()) {
    groups_.erase(it);
  } else {
    rebalance(it->second, now, current_counts(it->second));
  }
  return ok_status();
}

std::size_t Coordinator::expire() {
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = options_.now();
  std::vector<std::string> names;
  for (const auto& [name, g] : groups_) names.push_back(name);
  std::size_t dropped = 0;
  for (const std::string& name : names) {
    dropped += expire_group(name, now);
    auto it = groups_.find(name);
    if (it != groups_.end()) check_counts(it->second, now);
  }
  return dropped;
}

void Coordinator::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  groups_.clear();
}

std::vector<GroupSummary> Coordinator::list() const {
  std::set<std::string> names;
  for (std::string& n : options_.groups_with_offsets()) {
    names.insert(std::move(n));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = options_.now();
  for (const auto& [name, g] : groups_) names.insert(name);
  std::vector<GroupSummary> out;
  for (const std::string& name : names) {
    GroupSummary s;
    s.group = name;
    auto it = groups_.find(name);
    if (it != groups_.end()) {
      s.state = state_of(it->second, now);
      s.members = it->second.members.size();
      s.generation = it->second.generation;
    }
    out.push_back(std::move(s));
  }
  return out;
}

PartitionCounts Coordinator::current_counts(const Group& g) const {
  std::set<std::string> topics;
  for (const auto& [id, m] : g.members) {
    topics.insert(m.topics.begin(), m.topics.end());
  }
  PartitionCounts out;
  for (const std::string& t : topics) {
    Result<int> n = options_.partition_count(t);
    if (n.ok()) {
      out[t] = std::max(*n, 0);
    } else if (n.error().code == Code::not_found) {
      out[t] = 0;
    } else {
      // Unknown for now: keep what the assignment was computed from, so a
      // passing failure does not shuffle the group twice.
      auto old = g.counts.find(t);
      out[t] = old == g.counts.end() ? 0 : old->second;
    }
  }
  return out;
}

void Coordinator::rebalance(Group& g, MonoTime now, PartitionCounts counts) {
  ++g.generation;
  g.generation_started = now;
  g.counts = std::move(counts);
  std::vector<Subscription> subs;
  for (const auto& [id, m] : g.members) subs.push_back({id, m.topics});
  Assignment a = g.strategy == Strategy::range ? range(subs, g.counts)
                                               : round_robin(subs, g.counts);
  for (auto& [id, m] : g.members) m.assignment = std::move(a[id]);
}

std::size_t Coordinator::expire_group(const std::string& name, MonoTime now) {
  auto it = groups_.find(name);
  if (it == groups_.end()) return 0;
  Group& g = it->second;
  const std::size_t dropped = std::erase_if(g.members, [now](const auto& kv) {
    return now - kv.second.last_seen > kv.second.session_timeout;
  });
  if (dropped == 0) return 0;
  if (g.members.empty()) {
    groups_.erase(it);
  } else {
    rebalance(g, now, current_counts(g));
  }
  return dropped;
}

void Coordinator::check_counts(Group& g, MonoTime now) {
  PartitionCounts counts = current_counts(g);
  if (counts != g.counts) rebalance(g, now, std::move(counts));
}

GroupState Coordinator::state_of(const Group& g, MonoTime now) const {
  if (g.members.empty()) return GroupState::empty;
  Duration longest{0};
  for (const auto& [id, m] : g.members) {
    longest = std::max(longest, m.session_timeout);
  }
  return now - g.generation_started < longest ? GroupState::rebalancing
                                              : GroupState::stable;
}

std::string Coordinator::make_member_id() {
  if (options_.new_member_id) return options_.new_member_id();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "m-%016llx",
                static_cast<unsigned long long>(rng_()));
  return buf;
}

}  // namespace nw::groups
