// The pure half of the consumer-group commands (see group.h).
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/group.h"
#include "cli/json_read.h"
#include "common/api/json.h"
#include "common/base/strings.h"
#include "common/http/url.h"

namespace nw::ctl {
namespace {

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, "cli");
}

Result<TopicPartition> tp_from_value(const nlohmann::json& j,
                                     const std::string& what) {
  TopicPartition tp;
  std::uint64_t p = 0;
  api::ObjectReader r(j, what);
  r.required("topic", tp.topic);
  r.required("partition", p);
  NW_RETURN_IF_ERROR(r.status());
  tp.partition = static_cast<std::uint32_t>(p);
  return tp;
}

Result<CommittedOffset> offset_from_value(const nlohmann::json& j,
                                          const std::string& what) {
  CommittedOffset o;
  std::uint64_t p = 0;
  api::ObjectReader r(j, what);
  r.required("topic", o.topic);
  r.required("partition", p);
  r.required("offset", o.offset);
  NW_RETURN_IF_ERROR(r.status());
  o.partition = static_cast<std::uint32_t>(p);
  return o;
}

Result<GroupSummary> summary_from_value(const nlohmann::json& e,
                                        const std::string& w) {
  GroupSummary g;
  api::ObjectReader r(e, w);
  r.required("group", g.group);
  r.optional("state", g.state);
  r.optional("members", g.members);
  r.optional("generation", g.generation);
  NW_RETURN_IF_ERROR(r.status());
  return g;
}

Result<GroupMember> member_from_value(const nlohmann::json& e,
                                      const std::string& w) {
  GroupMember m;
  api::ObjectReader r(e, w);
  r.required("member_id", m.member_id);
  r.optional("client_id", m.client_id);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(
      read_array(e, "assignment", w, m.assignment, tp_from_value));
  return m;
}

Result<GroupOffset> group_offset_from_value(const nlohmann::json& e,
                                            const std::string& w) {
  GroupOffset o;
  std::uint64_t p = 0;
  api::ObjectReader r(e, w);
  r.required("topic", o.topic);
  r.required("partition", p);
  r.required("committed", o.committed);
  r.optional("high_watermark", o.high_watermark);
  r.optional("lag", o.lag);
  NW_RETURN_IF_ERROR(r.status());
  o.partition = static_cast<std::uint32_t>(p);
  return o;
}

Result<ResetRow> reset_row_from_value(const nlohmann::json& e,
                                      const std::string& w) {
  ResetRow row;
  std::uint64_t p = 0;
  api::ObjectReader r(e, w);
  r.required("topic", row.topic);
  r.required("partition", p);
  r.required("new", row.next);
  NW_RETURN_IF_ERROR(r.status());
  row.partition = static_cast<std::uint32_t>(p);
  auto cur = e.find("current");
  if (cur != e.end() && !cur->is_null()) {
    if (!cur->is_number_unsigned()) {
      return invalid(w +
                     ": field \"current\": expected a non-negative "
                     "integer");
    }
    row.current = cur->get<std::uint64_t>();
  }
  return row;
}

std::string assignment_text(const std::vector<TopicPartition>& a) {
  if (a.empty()) return "-";
  // "orders:0,1,2 audit:0"
  std::map<std::string, std::vector<std::uint32_t>> by_topic;
  for (const TopicPartition& tp : a) by_topic[tp.topic].push_back(tp.partition);
  std::vector<std::string> parts;
  for (auto& [topic, ps] : by_topic) {
    std::sort(ps.begin(), ps.end());
    std::vector<std::string> nums;
    for (auto p : ps) nums.push_back(std::to_string(p));
    parts.push_back(topic + ":" + join(nums, ","));
  }
  return join(parts, " ");
}

}  // namespace

Result<JoinAnswer> join_answer_from_json(std::string_view body) {
  const std::string what = "group join";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  JoinAnswer a;
  api::ObjectReader r(j, what);
  r.required("member_id", a.member_id);
  r.required("generation", a.generation);
  r.optional("heartbeat_interval_ms", a.heartbeat_interval_ms);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(
      read_array(j, "assignment", what, a.assignment, tp_from_value));
  if (a.heartbeat_interval_ms == 0) a.heartbeat_interval_ms = 3000;
  return a;
}

std::string group_join_body(std::string_view member_id,
                            std::string_view client_id, std::string_view topic,
                            std::uint64_t session_timeout_ms,
                            std::string_view strategy) {
  return api::to_body(nlohmann::json{
      {"member_id", std::string(member_id)},
      {"client_id", std::string(client_id)},
      {"topics", {std::string(topic)}},
      {"strategy", std::string(strategy)},
      {"session_timeout_ms", session_timeout_ms},
  });
}

Result<HeartbeatAnswer> heartbeat_answer_from_json(std::string_view body) {
  const std::string what = "group heartbeat";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  HeartbeatAnswer a;
  api::ObjectReader r(j, what);
  r.required("generation", a.generation);
  r.optional("rebalance", a.rebalance);
  NW_RETURN_IF_ERROR(r.status());
  auto it = j.find("assignment");
  if (it != j.end() && !it->is_null()) {
    std::vector<TopicPartition> tps;
    NW_RETURN_IF_ERROR(read_array(j, "assignment", what, tps, tp_from_value));
    a.assignment = std::move(tps);
  }
  return a;
}

std::string heartbeat_body(std::string_view member_id,
                           std::uint64_t generation) {
  return api::to_body(nlohmann::json{{"member_id", std::string(member_id)},
                                     {"generation", generation}});
}

std::string leave_body(std::string_view member_id) {
  return api::to_body(nlohmann::json{{"member_id", std::string(member_id)}});
}

std::string commit_body(std::string_view member_id, std::uint64_t generation,
                        const std::vector<CommittedOffset>& offsets) {
  nlohmann::json list = nlohmann::json::array();
  for (const CommittedOffset& o : offsets) {
    list.push_back(
        {{"topic", o.topic}, {"partition", o.partition}, {"offset", o.offset}});
  }
  nlohmann::json body = {{"generation", generation}, {"offsets", list}};
  if (!member_id.empty()) body["member_id"] = std::string(member_id);
  return api::to_body(body);
}

Result<std::vector<CommittedOffset>> committed_offsets_from_json(
    std::string_view body) {
  const std::string what = "group offsets";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  std::vector<CommittedOffset> out;
  NW_RETURN_IF_ERROR(read_array(j, "offsets", what, out, offset_from_value));
  return out;
}

Result<std::vector<GroupSummary>> group_list_from_json(std::string_view body) {
  const std::string what = "group list";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  std::vector<GroupSummary> out;
  NW_RETURN_IF_ERROR(read_array(j, "groups", what, out, summary_from_value));
  std::sort(out.begin(), out.end(),
            [](const GroupSummary& a, const GroupSummary& b) {
              return a.group < b.group;
            });
  return out;
}

Result<GroupDetail> group_from_json(std::string_view body) {
  const std::string what = "group";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  GroupDetail g;
  api::ObjectReader r(j, what);
  r.required("group", g.group);
  r.optional("state", g.state);
  r.optional("generation", g.generation);
  r.optional("strategy", g.strategy);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(
      read_array(j, "members", what, g.members, member_from_value));
  NW_RETURN_IF_ERROR(
      read_array(j, "offsets", what, g.offsets, group_offset_from_value));
  std::sort(g.offsets.begin(), g.offsets.end(),
            [](const GroupOffset& a, const GroupOffset& b) {
              return std::tie(a.topic, a.partition) <
                     std::tie(b.topic, b.partition);
            });
  return g;
}

std::string render_group_list(const std::vector<GroupSummary>& groups) {
  Table t({"GROUP", "STATE", "MEMBERS", "GENERATION"});
  for (const GroupSummary& g : groups) {
    t.add({g.group, g.state.empty() ? "-" : g.state, std::to_string(g.members),
           std::to_string(g.generation)});
  }
  return t.render();
}

std::string render_group(const GroupDetail& g) {
  std::uint64_t total_lag = 0;
  for (const GroupOffset& o : g.offsets) total_lag += o.lag;
  std::string out = render_fields({
      {"GROUP", g.group},
      {"STATE", g.state.empty() ? "-" : g.state},
      {"GENERATION", std::to_string(g.generation)},
      {"STRATEGY", g.strategy.empty() ? "-" : g.strategy},
      {"MEMBERS", std::to_string(g.members.size())},
      {"TOTAL LAG", std::to_string(total_lag)},
  });
  if (!g.members.empty()) {
    out += "\n";
    Table m({"MEMBER", "CLIENT", "ASSIGNMENT"});
    for (const GroupMember& member : g.members) {
      m.add({member.member_id,
             member.client_id.empty() ? "-" : member.client_id,
             assignment_text(member.assignment)});
    }
    out += m.render();
  }
  out += "\n";
  Table t(
      {"TOPIC", "PARTITION", "COMMITTED", "HIGH WATERMARK", "LAG", "MEMBER"});
  for (const GroupOffset& o : g.offsets) {
    std::string owner = "-";
    for (const GroupMember& member : g.members) {
      for (const TopicPartition& tp : member.assignment) {
        if (tp.topic == o.topic && tp.partition == o.partition) {
          owner = member.member_id;
        }
      }
    }
    t.add({o.topic, std::to_string(o.partition), std::to_string(o.committed),
           std::to_string(o.high_watermark), std::to_string(o.lag), owner});
  }
  out += t.render();
  return out;
}

Result<std::string> reset_body(const ResetFlags& f, WallTime now) {
  NW_RETURN_IF_ERROR(check_name("group", f.group));
  const std::string example = "e.g. nwctl group reset-offsets " + f.group +
                              " --topic orders --to-earliest";
  if (f.topic.empty())
    return usage("reset-offsets: --topic is required", example);
  NW_RETURN_IF_ERROR(check_name("topic", f.topic));
  int given = (f.to_earliest ? 1 : 0) + (f.to_latest ? 1 : 0) +
              (f.to_offset.empty() ? 0 : 1) + (f.to_time.empty() ? 0 : 1) +
              (f.shift_by.empty() ? 0 : 1);
  if (given != 1) {
    return usage(std::string("reset-offsets: ") +
                     (given == 0 ? "say where to move the offsets"
                                 : "give only one of the --to-* and "
                                   "--shift-by options"),
                 "use exactly one of --to-earliest, --to-latest, --to-offset "
                 "N, --to-time TIME, --shift-by N; " +
                     example);
  }
  nlohmann::json body = {{"topic", f.topic}, {"execute", f.execute}};
  if (f.to_earliest) {
    body["to"] = "earliest";
  } else if (f.to_latest) {
    body["to"] = "latest";
  } else if (!f.to_offset.empty()) {
    body["to"] = "offset";
    NW_ASSIGN_OR_RETURN(body["value"],
                        parse_int_flag("--to-offset", f.to_offset, 0, INT64_MAX,
                                       "an offset; it is clamped into each "
                                       "partition's range"));
  } else if (!f.to_time.empty()) {
    body["to"] = "time";
    auto ms = parse_time_ms(f.to_time, now, true);
    if (!ms.ok()) return ms.error().wrap("--to-time");
    body["value"] = ms.value();
  } else {
    body["to"] = "shift";
    NW_ASSIGN_OR_RETURN(
        body["value"],
        parse_int_flag("--shift-by", f.shift_by, INT64_MIN + 1, INT64_MAX,
                       "a positive number skips ahead, a "
                       "negative one goes back, e.g. "
                       "--shift-by=-100"));
  }
  return api::to_body(body);
}

Result<ResetPlan> reset_plan_from_json(std::string_view body) {
  const std::string what = "reset-offsets";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  ResetPlan plan;
  api::ObjectReader r(j, what);
  r.optional("executed", plan.executed);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(
      read_array(j, "plan", what, plan.plan, reset_row_from_value));
  return plan;
}

std::string render_reset_plan(const ResetPlan& plan) {
  Table t({"TOPIC", "PARTITION", "CURRENT", "NEW", "CHANGE"});
  for (const ResetRow& row : plan.plan) {
    std::string change = "-";
    if (row.current) {
      auto d = static_cast<std::int64_t>(row.next) -
               static_cast<std::int64_t>(*row.current);
      change = (d > 0 ? "+" : "") + std::to_string(d);
    }
    t.add({row.topic, std::to_string(row.partition),
           row.current ? std::to_string(*row.current) : "-",
           std::to_string(row.next), change});
  }
  return t.render();
}

std::string group_path(std::string_view group) {
  return "/v1/groups/" + http::percent_encode(group);
}

}  // namespace nw::ctl
