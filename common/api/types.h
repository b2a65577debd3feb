#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/result.h"

// Request and response bodies of the agent's own endpoints (/v1/status,
// /v1/health/*) and the version pair both binaries print. docs/api.md
// documents every field.
//
// The pattern every API type follows (later areas get their own header,
// e.g. topics.h, in the same style):
//   nlohmann::json to_json(const T&);                    // encode
//   Result<T> t_from_json(std::string_view body);        // decode a body
//   Result<T> t_from_value(const nlohmann::json& value); // decode a nested
//                                                        // value
// Decoders return invalid_argument naming the type and the field
// ("status: missing field \"pid\""); unknown fields are ignored (the API only
// ever adds fields). Fields added after a type's first release must be
// optional when decoding (see ObjectReader in json.h).
namespace nw::api {

// GET /v1/status: who this agent is and how it runs.
struct StatusInfo {
  std::string node_id;   // stable id, created with the data directory
  std::string version;   // nwagent's version, "0.1.0"
  std::string commit;    // the git commit it was built from
  std::string data_dir;  // absolute path of the data directory
  // "leader", "follower", "learner", "candidate" (also while pre-voting),
  // "joining" (not a member yet), "removed" (removed from its cluster).
  std::string role;
  std::string api_addr;    // the address the API listens on, "host:port"
  std::string log_level;   // "trace" .. "error", "off"
  std::string started_at;  // RFC 3339, UTC, with milliseconds
  double uptime_seconds = 0;
  std::int64_t pid = 0;
  // Added with the cluster (optional when read, for older agents).
  std::string peer_addr;   // this agent's peer (Raft) address
  std::string cluster_id;  // "" until it is a member
  std::string leader;      // the leader's node id; "" when none is known
  std::uint64_t term = 0;

  bool operator==(const StatusInfo&) const = default;
};

nlohmann::json to_json(const StatusInfo& s);
Result<StatusInfo> status_from_json(std::string_view body);
Result<StatusInfo> status_from_value(const nlohmann::json& value);

// The values of HealthInfo::status.
inline constexpr std::string_view kHealthOk = "ok";  // live: process runs
inline constexpr std::string_view kHealthReady = "ready";
inline constexpr std::string_view kHealthNotReady = "not_ready";
inline constexpr std::string_view kHealthShuttingDown = "shutting_down";

// GET /v1/health/live and /v1/health/ready. `reasons` says why the agent is
// not ready; it is left out of the JSON when empty.
struct HealthInfo {
  std::string status;  // one of the kHealth* values
  std::vector<std::string> reasons;

  bool operator==(const HealthInfo&) const = default;
};

nlohmann::json to_json(const HealthInfo& h);
Result<HealthInfo> health_from_json(std::string_view body);
Result<HealthInfo> health_from_value(const nlohmann::json& value);

// A binary's version and the commit it was built from (`nwctl version`).
struct VersionInfo {
  std::string version;
  std::string commit;

  bool operator==(const VersionInfo&) const = default;
};

nlohmann::json to_json(const VersionInfo& v);
Result<VersionInfo> version_from_json(std::string_view body);
Result<VersionInfo> version_from_value(const nlohmann::json& value);

}  // namespace nw::api
