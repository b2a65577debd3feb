#include "common/api/types.h"

#include "common/api/json.h"

namespace nw::api {
namespace {

// Decodes a body with the type's value decoder.
template <class F>
auto from_body(std::string_view body, std::string_view what, F from_value)
    -> decltype(from_value(nlohmann::json())) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j, parse_object(body, what));
  return from_value(j);
}

Status expect_object(const nlohmann::json& value, std::string_view what) {
  if (value.is_object()) return ok_status();
  return Error(
      Code::invalid_argument,
      std::string(what) + ": expected a JSON object, got " + value.type_name(),
      {}, "api");
}

}  // namespace

nlohmann::json to_json(const StatusInfo& s) {
  return {
      {"node_id", s.node_id},
      {"version", s.version},
      {"commit", s.commit},
      {"data_dir", s.data_dir},
      {"role", s.role},
      {"api_addr", s.api_addr},
      {"log_level", s.log_level},
      {"started_at", s.started_at},
      {"uptime_seconds", s.uptime_seconds},
      {"pid", s.pid},
      {"peer_addr", s.peer_addr},
      {"cluster_id", s.cluster_id},
      {"leader", s.leader},
      {"term", s.term},
  };
}

Result<StatusInfo> status_from_value(const nlohmann::json& value) {
  NW_RETURN_IF_ERROR(expect_object(value, "status"));
  StatusInfo s;
  ObjectReader r(value, "status");
  r.required("node_id", s.node_id);
  r.required("version", s.version);
  r.required("commit", s.commit);
  r.required("data_dir", s.data_dir);
  r.required("role", s.role);
  r.required("api_addr", s.api_addr);
  r.required("log_level", s.log_level);
  r.required("started_at", s.started_at);
  r.required("uptime_seconds", s.uptime_seconds);
  r.required("pid", s.pid);
  r.optional("peer_addr", s.peer_addr);
  r.optional("cluster_id", s.cluster_id);
  r.optional("leader", s.leader);
  r.optional("term", s.term);
  NW_RETURN_IF_ERROR(r.status());
  return s;
}

Result<StatusInfo> status_from_json(std::string_view body) {
  return from_body(body, "status", status_from_value);
}

nlohmann::json to_json(const HealthInfo& h) {
  nlohmann::json j = {{"status", h.status}};
  if (!h.reasons.empty()) j["reasons"] = h.reasons;
  return j;
}

Result<HealthInfo> health_from_value(const nlohmann::json& value) {
  NW_RETURN_IF_ERROR(expect_object(value, "health"));
  HealthInfo h;
  ObjectReader r(value, "health");
  r.required("status", h.status);
  r.optional("reasons", h.reasons);
  NW_RETURN_IF_ERROR(r.status());
  return h;
}

Result<HealthInfo> health_from_json(std::string_view body) {
  return from_body(body, "health", health_from_value);
}

nlohmann::json to_json(const VersionInfo& v) {
  return {{"version", v.version}, {"commit", v.commit}};
}

Result<VersionInfo> version_from_value(const nlohmann::json& value) {
  NW_RETURN_IF_ERROR(expect_object(value, "version"));
  VersionInfo v;
  ObjectReader r(value, "version");
  r.required("version", v.version);
  r.required("commit", v.commit);
  NW_RETURN_IF_ERROR(r.status());
  return v;
}

Result<VersionInfo> version_from_json(std::string_view body) {
  return from_body(body, "version", version_from_value);
}

}  // namespace nw::api
