// The /v1/groups routes (docs/api.md, "Consumer groups").
#include "agent/groups/group_api.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "common/api/json.h"

namespace nw::groups {
namespace {

using nlohmann::json;

http::Response ok_json(const json& j) {
  return http::Response::json(api::to_body(j));
}

http::Response no_content() { return http::Response::text("", "", 204); }

http::Response fail(const Error& e) { return http::Response::error(e); }

Error bad(std::string message, std::string hint = {}) {
  return Error(Code::invalid_argument, std::move(message), std::move(hint),
               "groups");
}

// Puts `example` (a valid body) in the hint of a decoding error.
Error with_example(Error e, std::string_view example) {
  if (e.hint.empty()) e.hint = "send a body like " + std::string(example);
  return e;
}

json assignment_json(const std::vector<TopicPartition>& a) {
  json out = json::array();
  for (const TopicPartition& tp : a) {
    out.push_back({{"topic", tp.topic}, {"partition", tp.partition}});
  }
  return out;
}

// The group name of /v1/groups/{group}/...; invalid_argument when bad.
Result<std::string> group_of(const http::Request& r) {
  std::string group = r.matches.size() > 1 ? r.matches[1] : std::string();
  NW_RETURN_IF_ERROR(validate_name("group", group));
  return group;
}

constexpr std::string_view kJoinExample =
    R"({"member_id": "", "client_id": "app-1", "topics": ["orders"], )"
    R"("strategy": "range", "session_timeout_ms": 10000})";
constexpr std::string_view kHeartbeatExample =
    R"({"member_id": "m-...", "generation": 4})";
constexpr std::string_view kCommitExample =
    R"({"member_id": "m-...", "generation": 5, "offsets": [{"topic": )"
    R"("orders", "partition": 0, "offset": 1201}]})";
constexpr std::string_view kResetExample =
    R"({"topic": "orders", "to": "earliest", "execute": false})";

http::Response handle_join(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  auto body = api::parse_object(r.body, "join");
  if (!body.ok()) return fail(with_example(body.error(), kJoinExample));
  JoinRequest req;
  std::string strategy = "range";
  std::int64_t timeout_ms = kDefaultSessionTimeout.count();
  api::ObjectReader rd(*body, "join");
  rd.optional("member_id", req.member_id);
  rd.optional("client_id", req.client_id);
  rd.required("topics", req.topics);
  rd.optional("strategy", strategy);
  rd.optional("session_timeout_ms", timeout_ms);
  if (Status s = rd.status(); !s.ok()) {
    return fail(with_example(s.error(), kJoinExample));
  }
  std::optional<Strategy> st = strategy_from_string(strategy);
  if (!st) {
    return fail(bad("join: strategy \"" + strategy + "\" is not known",
                    "use \"range\" (the default) or \"roundrobin\""));
  }
  req.strategy = *st;
  if (timeout_ms < kMinSessionTimeout.count() ||
      timeout_ms > kMaxSessionTimeout.count()) {
    return fail(bad("join: session_timeout_ms " + std::to_string(timeout_ms) +
                        " is out of range",
                    "give 1000 to 300000 (default 10000)"));
  }
  req.session_timeout = Duration(timeout_ms);
  Result<JoinResult> res = coord.join(group, req);
  if (!res.ok()) return fail(res.error());
  return ok_json({{"member_id", res->member_id},
                  {"generation", res->generation},
                  {"assignment", assignment_json(res->assignment)},
                  {"heartbeat_interval_ms", res->heartbeat_interval.count()},
                  {"strategy", to_string(res->strategy)}});
}

http::Response handle_heartbeat(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  auto body = api::parse_object(r.body, "heartbeat");
  if (!body.ok()) return fail(with_example(body.error(), kHeartbeatExample));
  std::string member_id;
  std::uint64_t generation = 0;
  api::ObjectReader rd(*body, "heartbeat");
  rd.required("member_id", member_id);
  rd.required("generation", generation);
  if (Status s = rd.status(); !s.ok()) {
    return fail(with_example(s.error(), kHeartbeatExample));
  }
  Result<HeartbeatResult> res = coord.heartbeat(group, member_id, generation);
  if (!res.ok()) return fail(res.error());
  return ok_json({{"generation", res->generation},
                  {"assignment", assignment_json(res->assignment)},
                  {"rebalance", res->rebalance}});
}

http::Response handle_leave(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  constexpr std::string_view kExample = R"({"member_id": "m-..."})";
  auto body = api::parse_object(r.body, "leave");
  if (!body.ok()) return fail(with_example(body.error(), kExample));
  std::string member_id;
  api::ObjectReader rd(*body, "leave");
  rd.required("member_id", member_id);
  if (Status s = rd.status(); !s.ok()) {
    return fail(with_example(s.error(), kExample));
  }
  if (Status s = coord.leave(group, member_id); !s.ok()) return fail(s.error());
  return no_content();
}

Result<std::vector<OffsetCommit>> parse_offsets(const json& body) {
  auto it = body.find("offsets");
  if (it == body.end() || !it->is_array()) {
    return bad(
        "commit: \"offsets\" must be a list of {topic, partition, "
        "offset}",
        "send a body like " + std::string(kCommitExample));
  }
  std::vector<OffsetCommit> out;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& item = (*it)[i];
    const std::string what = "commit: offsets[" + std::to_string(i) + "]";
    if (!item.is_object()) {
      return bad(what + ": expected an object, got " + item.type_name());
    }
    OffsetCommit o;
    std::int64_t partition = 0;
    api::ObjectReader rd(item, what);
    rd.required("topic", o.topic);
    rd.required("partition", partition);
    rd.required("offset", o.offset);
    if (Status s = rd.status(); !s.ok()) {
      return with_example(s.error(), kCommitExample);
    }
    if (partition < 0 || partition > std::numeric_limits<int>::max()) {
      return bad(what + ": partition " + std::to_string(partition) +
                 " is out of range");
    }
    o.partition = static_cast<int>(partition);
    out.push_back(std::move(o));
  }
  return out;
}

http::Response handle_commit(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  auto body = api::parse_object(r.body, "commit");
  if (!body.ok()) return fail(with_example(body.error(), kCommitExample));
  std::string member_id;
  std::uint64_t generation = 0;
  api::ObjectReader rd(*body, "commit");
  rd.optional("member_id", member_id);
  rd.optional("generation", generation);
  if (Status s = rd.status(); !s.ok()) {
    return fail(with_example(s.error(), kCommitExample));
  }
  if (!member_id.empty() &&
      (!body->contains("generation") || (*body)["generation"].is_null())) {
    return fail(bad("commit: a member's commit needs its \"generation\"",
                    "send the generation of the last join or heartbeat"));
  }
  Result<std::vector<OffsetCommit>> offsets = parse_offsets(*body);
  if (!offsets.ok()) return fail(offsets.error());
  if (Status s = coord.commit_offsets(group, member_id, generation, *offsets);
      !s.ok()) {
    return fail(s.error());
  }
  return no_content();
}

http::Response handle_fetch(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  Result<std::vector<OffsetCommit>> offsets = coord.fetch_offsets(group);
  if (!offsets.ok()) return fail(offsets.error());
  json list = json::array();
  for (const OffsetCommit& o : *offsets) {
    list.push_back(
        {{"topic", o.topic}, {"partition", o.partition}, {"offset", o.offset}});
  }
  return ok_json({{"group", group}, {"offsets", list}});
}

http::Response handle_list(Coordinator& coord) {
  json list = json::array();
  for (const GroupSummary& s : coord.list()) {
    list.push_back({{"group", s.group},
                    {"state", to_string(s.state)},
                    {"members", s.members},
                    {"generation", s.generation}});
  }
  return ok_json({{"groups", list}});
}

http::Response handle_describe(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  Result<GroupDescription> d = coord.describe(group);
  if (!d.ok()) return fail(d.error());
  json members = json::array();
  for (const MemberInfo& m : d->members) {
    members.push_back({{"member_id", m.member_id},
                       {"client_id", m.client_id},
                       {"topics", m.topics},
                       {"session_timeout_ms", m.session_timeout.count()},
                       {"assignment", assignment_json(m.assignment)}});
  }
  json offsets = json::array();
  for (const OffsetLag& o : d->offsets) {
    json row = {{"topic", o.topic},
                {"partition", o.partition},
                {"committed", o.committed}};
    if (o.high_watermark) row["high_watermark"] = *o.high_watermark;
    if (o.lag) row["lag"] = *o.lag;
    if (!o.member_id.empty()) row["member_id"] = o.member_id;
    offsets.push_back(std::move(row));
  }
  return ok_json(
      {{"group", d->group},
       {"state", to_string(d->state)},
       {"generation", d->generation},
       {"strategy", d->strategy ? std::string(to_string(*d->strategy)) : ""},
       {"members", members},
       {"offsets", offsets}});
}

http::Response handle_reset(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  auto body = api::parse_object(r.body, "reset");
  if (!body.ok()) return fail(with_example(body.error(), kResetExample));
  ResetRequest req;
  std::string to;
  api::ObjectReader rd(*body, "reset");
  rd.optional("topic", req.topic);
  rd.required("to", to);
  rd.optional("value", req.value);
  rd.optional("execute", req.execute);
  if (Status s = rd.status(); !s.ok()) {
    return fail(with_example(s.error(), kResetExample));
  }
  std::optional<ResetTo> t = reset_to_from_string(to);
  if (!t) {
    return fail(bad("reset: \"to\": \"" + to + "\" is not known",
                    "use earliest, latest, offset, time or shift"));
  }
  req.to = *t;
  const bool needs_value = req.to == ResetTo::offset ||
                           req.to == ResetTo::time || req.to == ResetTo::shift;
  if (needs_value && (!body->contains("value") || (*body)["value"].is_null())) {
    return fail(bad("reset: \"to\": \"" + to + "\" needs a \"value\"",
                    "offset: the offset; time: ms since the Unix epoch; "
                    "shift: how many records to move (negative: back)"));
  }
  Result<ResetResult> res = coord.reset_offsets(group, req);
  if (!res.ok()) return fail(res.error());
  json plan = json::array();
  for (const ResetRow& row : res->plan) {
    plan.push_back({{"topic", row.topic},
                    {"partition", row.partition},
                    {"current", row.current ? json(*row.current) : json()},
                    {"new", row.next}});
  }
  return ok_json({{"executed", res->executed}, {"plan", plan}});
}

http::Response handle_delete(Coordinator& coord, const http::Request& r) {
  Result<std::string> name = group_of(r);
  if (!name.ok()) return fail(name.error());
  const std::string& group = *name;
  if (Status s = coord.delete_group(group); !s.ok()) return fail(s.error());
  return no_content();
}

}  // namespace

void add_group_routes(http::Server& server, Coordinator& coord,
                      Forward forward) {
  auto route =
      [&server, &coord, &forward](
          std::string method, std::string pattern, std::string label,
          std::function<http::Response(Coordinator&, const http::Request&)>
              handler) {
        server.route(std::move(method), std::move(pattern), std::move(label),
                     [&coord, forward, handler = std::move(handler)](
                         const http::Request& r) -> http::Response {
                       if (forward) {
                         if (std::optional<http::Response> f = forward(r)) {
                           return std::move(*f);
                         }
                       }
                       return handler(coord, r);
                     });
      };
  const std::string g = "/v1/groups/([^/]+)";
  route("GET", "/v1/groups", "/v1/groups",
        [](Coordinator& c, const http::Request&) { return handle_list(c); });
  route("GET", g, "/v1/groups/{group}", handle_describe);
  route("DELETE", g, "/v1/groups/{group}", handle_delete);
  route("POST", g + "/join", "/v1/groups/{group}/join", handle_join);
  route("POST", g + "/heartbeat", "/v1/groups/{group}/heartbeat",
        handle_heartbeat);
  route("POST", g + "/leave", "/v1/groups/{group}/leave", handle_leave);
  route("POST", g + "/offsets", "/v1/groups/{group}/offsets", handle_commit);
  route("GET", g + "/offsets", "/v1/groups/{group}/offsets", handle_fetch);
  route("POST", g + "/reset-offsets", "/v1/groups/{group}/reset-offsets",
        handle_reset);
}

}  // namespace nw::groups
