// The pure half of `nwctl topic ...` (see topic.h).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command_util.h"
#include "cli/context.h"
#include "cli/topic.h"
#include "common/api/json.h"
#include "common/base/strings.h"
#include "common/base/units.h"
#include "common/http/url.h"

namespace nw::ctl {
namespace {

constexpr std::int64_t kMaxPartitions = 1024;
constexpr std::int64_t kMaxReplicas = 7;
constexpr std::int64_t kMinSegmentBytes = 1 << 20;

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, "cli");
}

template <class T>
Status narrow(std::uint64_t v, const std::string& what, std::string_view key,
              T& out) {
  if (v > std::numeric_limits<T>::max()) {
    return invalid(what + ": field \"" + std::string(key) +
                   "\": " + std::to_string(v) + " is out of range");
  }
  out = static_cast<T>(v);
  return ok_status();
}

Result<PartitionState> partition_from_value(const nlohmann::json& j,
                                            const std::string& what) {
  if (!j.is_object()) {
    return invalid(what + ": expected an object, got " + j.type_name());
  }
  PartitionState p;
  std::uint64_t partition = 0;
  api::ObjectReader r(j, what);
  r.required("partition", partition);
  r.optional("leader", p.leader);
  r.optional("replicas", p.replicas);
  r.optional("in_sync", p.in_sync);
  r.optional("high_watermark", p.high_watermark);
  r.optional("start_offset", p.start_offset);
  r.optional("size_bytes", p.size_bytes);
  r.optional("status", p.status);
  r.optional("error", p.error);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(narrow(partition, what, "partition", p.partition));
  return p;
}

Result<TopicInfo> topic_from_value(const nlohmann::json& j,
                                   const std::string& what) {
  if (!j.is_object()) {
    return invalid(what + ": expected an object, got " + j.type_name());
  }
  TopicInfo t;
  std::uint64_t partitions = 0, replicas = 0;
  api::ObjectReader r(j, what);
  r.required("name", t.name);
  r.optional("id", t.id);
  r.required("partitions", partitions);
  r.optional("replicas", replicas);
  r.optional("retention_ms", t.retention_ms);
  r.optional("retention_bytes", t.retention_bytes);
  r.optional("segment_bytes", t.segment_bytes);
  r.optional("segment_ms", t.segment_ms);
  r.optional("segment_ms_default", t.segment_ms_default);
  NW_RETURN_IF_ERROR(r.status());
  NW_RETURN_IF_ERROR(narrow(partitions, what, "partitions", t.partitions));
  NW_RETURN_IF_ERROR(narrow(replicas, what, "replicas", t.replicas));
  auto states = j.find("partition_states");
  if (states != j.end() && !states->is_null()) {
    if (!states->is_array()) {
      return invalid(what +
                     ": field \"partition_states\": expected an array, got " +
                     states->type_name());
    }
    for (size_t i = 0; i < states->size(); ++i) {
      NW_ASSIGN_OR_RETURN(
          PartitionState p,
          partition_from_value((*states)[i], what + ": partition_states[" +
                                                 std::to_string(i) + "]"));
      t.partition_states.push_back(std::move(p));
    }
    std::sort(t.partition_states.begin(), t.partition_states.end(),
              [](const PartitionState& a, const PartitionState& b) {
                return a.partition < b.partition;
              });
  }
  return t;
}

bool is_unlimited(std::string_view t) {
  return t == "-1" || t == "unlimited" || t == "none";
}

// "1.3MiB": a size for reading, not for writing back.
std::string approx_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%lluB",
                  static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f%s", v, kUnits[u]);
  }
  return buf;
}

std::string list_or_dash(const std::vector<std::string>& v) {
  return v.empty() ? "-" : join(v, ",");
}

}  // namespace

Result<TopicInfo> topic_from_json(std::string_view body) {
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, "topic"));
  return topic_from_value(j, "topic");
}

Result<std::vector<TopicInfo>> topic_list_from_json(std::string_view body) {
  const std::string what = "topic list";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  auto topics = j.find("topics");
  if (topics == j.end() || topics->is_null()) {
    return invalid(what + ": missing field \"topics\"");
  }
  if (!topics->is_array()) {
    return invalid(what + ": field \"topics\": expected an array, got " +
                   topics->type_name());
  }
  std::vector<TopicInfo> out;
  for (size_t i = 0; i < topics->size(); ++i) {
    NW_ASSIGN_OR_RETURN(
        TopicInfo t,
        topic_from_value((*topics)[i],
                         what + ": topics[" + std::to_string(i) + "]"));
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const TopicInfo& a, const TopicInfo& b) {
    return a.name < b.name;
  });
  return out;
}

std::string topic_path(std::string_view name) {
  return "/v1/topics/" + http::percent_encode(name);
}

namespace {

// Milliseconds (digits only) or a duration ("12h", "7d"), at least `min`
// ms; `expected` says what the flag takes, for the error.
Result<std::int64_t> parse_ms(std::string_view flag, std::string_view text,
                              std::int64_t min, std::string_view expected,
                              std::string_view example) {
  std::string_view t = trim(text);
  if (!t.empty() && std::all_of(t.begin(), t.end(),
                                [](char c) { return c >= '0' && c <= '9'; })) {
    return parse_int_flag(flag, t, min, INT64_MAX);
  }
  auto d = parse_duration(t);
  if (!d.ok() || d.value().count() < min) {
    return usage(std::string(flag) + ": expected " + std::string(expected) +
                     ", got " + single_quote(text),
                 "e.g. " + std::string(flag) + " " + std::string(example));
  }
  return static_cast<std::int64_t>(d.value().count());
}

}  // namespace

Result<std::int64_t> parse_retention_ms(std::string_view flag,
                                        std::string_view text) {
  if (is_unlimited(trim(text))) return -1;
  return parse_ms(flag, text, 0,
                  "milliseconds, a duration such as 7d or 12h, or -1 for no "
                  "limit",
                  "7d");
}

Result<std::int64_t> parse_segment_ms(std::string_view flag,
                                      std::string_view text,
                                      bool allow_default) {
  if (allow_default && trim(text) == "default") return 0;
  return parse_ms(
      flag, text, 1,
      allow_default ? "milliseconds or a duration such as 1h or 7d, or default"
                    : "milliseconds or a duration such as 1h or 7d",
      "1d");
}

Result<std::int64_t> parse_byte_limit(std::string_view flag,
                                      std::string_view text,
                                      bool allow_unlimited) {
  std::string_view t = trim(text);
  if (allow_unlimited && is_unlimited(t)) return -1;
  auto s = parse_size(t);
  if (!s.ok() || s.value() > static_cast<std::uint64_t>(INT64_MAX)) {
    return usage(std::string(flag) +
                     ": expected bytes or a size such as 512MiB or 1GB" +
                     (allow_unlimited ? ", or -1 for no limit" : "") +
                     ", got " + single_quote(text),
                 "e.g. " + std::string(flag) + " 1GiB");
  }
  return static_cast<std::int64_t>(s.value());
}

namespace {

// The retention and segment keys create and alter share; alter may set
// --segment-ms back to the default.
template <typename Flags>
Status put_limits(const Flags& f, bool alter, nlohmann::json* out) {
  nlohmann::json& body = *out;
  if (!f.retention_ms.empty()) {
    NW_ASSIGN_OR_RETURN(body["retention_ms"],
                        parse_retention_ms("--retention-ms", f.retention_ms));
  }
  if (!f.retention_bytes.empty()) {
    NW_ASSIGN_OR_RETURN(
        body["retention_bytes"],
        parse_byte_limit("--retention-bytes", f.retention_bytes, true));
  }
  if (!f.segment_bytes.empty()) {
    NW_ASSIGN_OR_RETURN(
        std::int64_t seg,
        parse_byte_limit("--segment-bytes", f.segment_bytes, false));
    if (seg < kMinSegmentBytes) {
      return usage("--segment-bytes: " + f.segment_bytes +
                       " is too small; the minimum is 1MiB",
                   "e.g. --segment-bytes 128MiB (the default)");
    }
    body["segment_bytes"] = seg;
  }
  if (!f.segment_ms.empty()) {
    NW_ASSIGN_OR_RETURN(body["segment_ms"],
                        parse_segment_ms("--segment-ms", f.segment_ms, alter));
  }
  return ok_status();
}

}  // namespace

Result<std::string> topic_create_body(const TopicCreateFlags& f) {
  NW_RETURN_IF_ERROR(check_name("topic", f.name));
  const std::string example =
      "e.g. nwctl topic create " + f.name + " --partitions 3 --replicas 3";
  if (f.partitions.empty() || f.replicas.empty()) {
    return usage(std::string("topic create: ") +
                     (f.partitions.empty() ? "--partitions" : "--replicas") +
                     " is required",
                 example);
  }
  nlohmann::json body = {{"name", f.name}};
  NW_ASSIGN_OR_RETURN(
      body["partitions"],
      parse_int_flag("--partitions", f.partitions, 1, kMaxPartitions, example));
  NW_ASSIGN_OR_RETURN(
      body["replicas"],
      parse_int_flag("--replicas", f.replicas, 1, kMaxReplicas,
                     "at most the number of agents (nwctl cluster status)"));
  NW_RETURN_IF_ERROR(put_limits(f, false, &body));
  return api::to_body(body);
}

Result<std::string> topic_alter_body(const TopicAlterFlags& f) {
  NW_RETURN_IF_ERROR(check_name("topic", f.name));
  nlohmann::json body = nlohmann::json::object();
  if (!f.partitions.empty()) {
    NW_ASSIGN_OR_RETURN(
        body["partitions"],
        parse_int_flag("--partitions", f.partitions, 1, kMaxPartitions,
                       "give the new, larger partition count"));
  }
  NW_RETURN_IF_ERROR(put_limits(f, true, &body));
  if (body.empty()) {
    return usage("topic alter: nothing to change",
                 "give --partitions, --retention-ms, --retention-bytes, "
                 "--segment-bytes and/or --segment-ms, e.g. nwctl topic "
                 "alter " +
                     f.name + " --retention-ms 3d");
  }
  return api::to_body(body);
}

Result<std::string> topic_reassign_body(const TopicReassignFlags& f) {
  NW_RETURN_IF_ERROR(check_name("topic", f.name));
  const std::string example = "e.g. nwctl topic reassign " + f.name +
                              " --partition 0 --replicas nw-1,nw-2,nw-4";
  if (f.partition.empty()) {
    return usage("topic reassign: --partition is required", example);
  }
  NW_ASSIGN_OR_RETURN(
      std::int64_t partition,
      parse_int_flag("--partition", f.partition, 0, kMaxPartitions - 1,
                     "see the partitions with nwctl topic describe " + f.name));
  std::vector<std::string> replicas;
  for (const std::string& arg : f.replicas) {
    for (const std::string& piece : split(arg, ',')) {
      std::string id(trim(piece));
      if (id.empty()) continue;
      if (std::find(replicas.begin(), replicas.end(), id) != replicas.end()) {
        return usage("--replicas: " + single_quote(id) + " is given twice",
                     "each replica must be a different agent");
      }
      replicas.push_back(std::move(id));
    }
  }
  if (replicas.empty()) {
    return usage("topic reassign: --replicas is required",
                 example + " (node ids as nwctl cluster status shows them)");
  }
  if (replicas.size() > static_cast<size_t>(kMaxReplicas)) {
    return usage("--replicas: " + std::to_string(replicas.size()) +
                     " replicas; the limit is 7",
                 "list at most 7 node ids");
  }
  return api::to_body(
      nlohmann::json{{"partition", partition}, {"replicas", replicas}});
}

std::string retention_text(std::int64_t ms) {
  if (ms < 0) return "unlimited";
  return format_duration(Duration(ms));
}

std::string segment_age_text(const TopicInfo& topic) {
  if (topic.segment_ms <= 0) return "-";
  std::string out = format_duration(Duration(topic.segment_ms));
  if (topic.segment_ms_default) out += " (default)";
  return out;
}

std::string bytes_text(std::int64_t bytes) {
  if (bytes < 0) return "unlimited";
  return format_size(static_cast<std::uint64_t>(bytes));
}

std::string render_topic_list(const std::vector<TopicInfo>& topics) {
  Table t({"NAME", "PARTITIONS", "REPLICAS", "RETENTION", "RETENTION BYTES",
           "SEGMENT BYTES"});
  for (const TopicInfo& topic : topics) {
    t.add({topic.name, std::to_string(topic.partitions),
           std::to_string(topic.replicas), retention_text(topic.retention_ms),
           bytes_text(topic.retention_bytes), bytes_text(topic.segment_bytes)});
  }
  return t.render();
}

std::string render_topic(const TopicInfo& topic) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"NAME", topic.name},
      {"ID", std::to_string(topic.id)},
      {"PARTITIONS", std::to_string(topic.partitions)},
      {"REPLICAS", std::to_string(topic.replicas)},
      {"RETENTION", retention_text(topic.retention_ms)},
      {"RETENTION BYTES", bytes_text(topic.retention_bytes)},
      {"SEGMENT BYTES", bytes_text(topic.segment_bytes)},
  };
  // Agents before segment_ms existed do not report it.
  if (topic.segment_ms > 0) {
    fields.emplace_back("SEGMENT AGE", segment_age_text(topic));
  }
  std::string out = render_fields(fields);
  out += "\n";
  Table t({"PARTITION", "LEADER", "REPLICAS", "IN-SYNC", "HIGH WATERMARK",
           "START OFFSET", "SIZE", "STATUS"});
  for (const PartitionState& p : topic.partition_states) {
    std::string status = p.status.empty() ? "-" : p.status;
    if (!p.error.empty()) status += ": " + p.error;
    t.add({std::to_string(p.partition), p.leader.empty() ? "-" : p.leader,
           list_or_dash(p.replicas), list_or_dash(p.in_sync),
           std::to_string(p.high_watermark), std::to_string(p.start_offset),
           approx_size(p.size_bytes), status});
  }
  out += t.render();
  return out;
}

}  // namespace nw::ctl
