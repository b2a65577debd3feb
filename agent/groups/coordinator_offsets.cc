// Coordinator: the offset side (commit, fetch, describe with lag, reset,
// delete). Membership is in coordinator.cc.
#include <algorithm>
#include <limits>
#include <set>

#include "agent/groups/coordinator.h"
#include "agent/groups/coordinator_internal.h"

namespace nw::groups {

using internal::group_error;

namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string partition_name(const std::string& topic, int partition) {
  return "topic " + quoted(topic) + " partition " + std::to_string(partition);
}

// base + delta, kept within [0, 2^64).
std::uint64_t shifted(std::uint64_t base, std::int64_t delta) {
  if (delta >= 0) {
    const auto d = static_cast<std::uint64_t>(delta);
    return base > std::numeric_limits<std::uint64_t>::max() - d
               ? std::numeric_limits<std::uint64_t>::max()
               : base + d;
  }
  // -(delta + 1) + 1 avoids overflowing on INT64_MIN.
  const auto d = static_cast<std::uint64_t>(-(delta + 1)) + 1;
  return base < d ? 0 : base - d;
}

}  // namespace

std::string_view to_string(ResetTo t) {
  switch (t) {
    case ResetTo::earliest:
      return "earliest";
    case ResetTo::latest:
      return "latest";
    case ResetTo::offset:
      return "offset";
    case ResetTo::time:
      return "time";
    case ResetTo::shift:
      return "shift";
  }
  return "earliest";
}

std::optional<ResetTo> reset_to_from_string(std::string_view s) {
  for (ResetTo t : {ResetTo::earliest, ResetTo::latest, ResetTo::offset,
                    ResetTo::time, ResetTo::shift}) {
    if (s == to_string(t)) return t;
  }
  return std::nullopt;
}

Status Coordinator::commit_offsets(const std::string& group,
                                   const std::string& member_id,
                                   std::uint64_t generation,
                                   const std::vector<OffsetCommit>& offsets) {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  if (offsets.empty()) {
    return group_error(Code::invalid_argument, "commit: no offsets",
                       "list at least one {topic, partition, offset}");
  }
  std::set<std::pair<std::string, int>> seen;
  std::map<std::string, int> counts;
  for (const OffsetCommit& o : offsets) {
    NW_RETURN_IF_ERROR(validate_name("topic", o.topic));
    if (!seen.emplace(o.topic, o.partition).second) {
      return group_error(Code::invalid_argument,
                         "commit: " + partition_name(o.topic, o.partition) +
                             " is listed twice");
    }
    if (!counts.contains(o.topic)) {
      NW_ASSIGN_OR_RETURN(counts[o.topic],
                          internal::partition_count(options_, o.topic));
    }
    if (o.partition < 0 || o.partition >= counts[o.topic]) {
      return group_error(Code::not_found,
                         "commit: " + partition_name(o.topic, o.partition) +
                             ": no such partition (the topic has " +
                             std::to_string(counts[o.topic]) + ")");
    }
  }

  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const MonoTime now = options_.now();
    expire_group(group, now);
    auto it = groups_.find(group);
    if (member_id.empty()) {
      if (it != groups_.end()) {
        return group_error(
            Code::failed_precondition,
            "commit to group " + quoted(group) + ": the group has " +
                std::to_string(it->second.members.size()) +
                " member(s), and no member id was given",
            "commit as a member (member_id and generation), or stop the "
            "group's consumers first");
      }
    } else {
      Member* m = nullptr;
      if (it != groups_.end()) {
        auto found = it->second.members.find(member_id);
        if (found != it->second.members.end()) m = &found->second;
      }
      if (m == nullptr) {
        return group_error(Code::conflict,
                           "commit to group " + quoted(group) + ": member " +
                               quoted(member_id) + " is not a member",
                           "rejoin the group; the partitions may have moved "
                           "to another member");
      }
      if (generation != it->second.generation) {
        return group_error(
            Code::conflict,
            "commit to group " + quoted(group) + ": generation " +
                std::to_string(generation) + " is stale (the group is at " +
                std::to_string(it->second.generation) + ")",
            "heartbeat for the new assignment and commit only partitions "
            "still assigned");
      }
      // A commit shows the member is alive, as a heartbeat does.
      m->last_seen = now;
    }
  }
  return options_.commit(group, offsets);
}

Result<std::vector<OffsetCommit>> Coordinator::fetch_offsets(
    const std::string& group) const {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  std::vector<OffsetCommit> out;
  for (const auto& [tp, offset] : options_.committed(group)) {
    out.push_back({tp.first, tp.second, offset});
  }
  return out;
}

Result<GroupDescription> Coordinator::describe(const std::string& group) const {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  const OffsetMap committed = options_.committed(group);
  GroupDescription d;
  d.group = group;
  std::map<TopicPartition, std::string> owner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const MonoTime now = options_.now();
    auto it = groups_.find(group);
    if (it == groups_.end() && committed.empty()) {
      return group_error(Code::not_found,
                         "group " + quoted(group) + ": not found",
                         "list groups with: nwctl group list");
    }
    if (it != groups_.end()) {
      const Group& g = it->second;
      d.state = state_of(g, now);
      d.generation = g.generation;
      d.strategy = g.strategy;
      for (const auto& [id, m] : g.members) {
        d.members.push_back(
            {id, m.client_id, m.topics, m.session_timeout, m.assignment});
        for (const TopicPartition& tp : m.assignment) owner[tp] = id;
      }
    }
  }
  for (const auto& [tp, offset] : committed) {
    OffsetLag row;
    row.topic = tp.first;
    row.partition = tp.second;
    row.committed = offset;
    auto range = options_.offsets_range(tp.first, tp.second);
    if (range.ok()) {
      row.high_watermark = range->second;
      row.lag = range->second > offset ? range->second - offset : 0;
    }
    auto o = owner.find(TopicPartition{tp.first, tp.second});
    if (o != owner.end()) row.member_id = o->second;
    d.offsets.push_back(std::move(row));
  }
  return d;
}

Result<ResetResult> Coordinator::reset_offsets(const std::string& group,
                                               const ResetRequest& request) {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  if (!request.topic.empty()) {
    NW_RETURN_IF_ERROR(validate_name("topic", request.topic));
  }
  if (request.to == ResetTo::offset && request.value < 0) {
    return group_error(
        Code::invalid_argument,
        "reset: offset " + std::to_string(request.value) + " is negative",
        "give an offset of 0 or more");
  }
  if (request.to == ResetTo::time && !options_.offset_for_time) {
    return group_error(Code::failed_precondition,
                       "reset: to a time is not available on this agent",
                       "reset to earliest, latest, an offset or a shift");
  }
  std::unique_lock<std::mutex> commit_lock(commit_mu_, std::defer_lock);
  if (request.execute) {
    commit_lock.lock();
    std::lock_guard<std::mutex> lock(mu_);
    expire_group(group, options_.now());
    auto it = groups_.find(group);
    if (it != groups_.end()) {
      return group_error(
          Code::failed_precondition,
          "reset of group " + quoted(group) + ": the group has " +
              std::to_string(it->second.members.size()) + " member(s)",
          "stop the group's consumers first (they drop out after their "
          "session timeout), or look at the plan without execute");
    }
  }

  const OffsetMap committed = options_.committed(group);
  std::set<std::string> topics;
  if (!request.topic.empty()) {
    topics.insert(request.topic);
  } else {
    for (const auto& [tp, offset] : committed) topics.insert(tp.first);
    if (topics.empty()) {
      return group_error(
          Code::not_found,
          "reset: group " + quoted(group) + " has no committed offsets",
          "name the topic to reset");
    }
  }

  ResetResult out;
  for (const std::string& topic : topics) {
    NW_ASSIGN_OR_RETURN(int n, internal::partition_count(options_, topic));
    for (int p = 0; p < n; ++p) {
      auto range = options_.offsets_range(topic, p);
      if (!range.ok()) {
        return range.error().wrap("reset: " + partition_name(topic, p));
      }
      const auto [start, high] = *range;
      ResetRow row;
      row.topic = topic;
      row.partition = p;
      auto c = committed.find({topic, p});
      if (c != committed.end()) row.current = c->second;
      std::uint64_t target = 0;
      switch (request.to) {
        case ResetTo::earliest:
          target = start;
          break;
        case ResetTo::latest:
          target = high;
          break;
        case ResetTo::offset:
          target = static_cast<std::uint64_t>(request.value);
          break;
        case ResetTo::time: {
          const WallTime at{std::chrono::duration_cast<WallTime::duration>(
              std::chrono::milliseconds(request.value))};
          auto found = options_.offset_for_time(topic, p, at);
          if (!found.ok()) {
            return found.error().wrap("reset: " + partition_name(topic, p));
          }
          target = *found;
          break;
        }
        case ResetTo::shift:
          if (!row.current) {
            return group_error(
                Code::failed_precondition,
                "reset: " + partition_name(topic, p) +
                    " has no committed offset to shift from",
                "reset it to earliest, latest or an offset instead");
          }
          target = shifted(*row.current, request.value);
          break;
      }
      row.next = std::clamp(target, start, std::max(start, high));
      out.plan.push_back(std::move(row));
    }
  }

  if (request.execute && !out.plan.empty()) {
    std::vector<OffsetCommit> offsets;
    for (const ResetRow& r : out.plan) {
      offsets.push_back({r.topic, r.partition, r.next});
    }
    NW_RETURN_IF_ERROR(options_.commit(group, offsets));
    out.executed = true;
  }
  return out;
}

Status Coordinator::delete_group(const std::string& group) {
  NW_RETURN_IF_ERROR(validate_name("group", group));
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    expire_group(group, options_.now());
    auto it = groups_.find(group);
    if (it != groups_.end()) {
      return group_error(
          Code::failed_precondition,
          "delete of group " + quoted(group) + ": the group has " +
              std::to_string(it->second.members.size()) + " member(s)",
          "stop the group's consumers first (they drop out after their "
          "session timeout)");
    }
  }
  if (options_.committed(group).empty()) {
    return group_error(Code::not_found,
                       "group " + quoted(group) + ": not found",
                       "list groups with: nwctl group list");
  }
  return options_.delete_offsets(group);
}

}  // namespace nw::groups
