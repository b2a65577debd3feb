#include "common/config/job_codec.h"

#include <climits>
#include <map>

#include "common/api/json.h"
#include "common/config/key_table.h"

namespace nw::config {
namespace {

using nlohmann::json;

constexpr std::string_view kDomain = "config";

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message),
               "see docs/jobs.md, \"JSON form\"", kDomain);
}

json string_map(const std::map<std::string, std::string>& m) {
  json out = json::object();
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

// Every field of `j` must be one of `known`; `what` names the object.
Status check_fields(const json& j, std::string_view what,
                    const std::vector<std::string>& known) {
  for (const auto& [key, value] : j.items()) {
    bool found = false;
    for (const std::string& k : known) found = found || k == key;
    if (found) continue;
    std::string message =
        std::string(what) + ": unknown field " + detail::quoted(key);
    std::string near = detail::closest(key, known);
    if (!near.empty()) message += "; did you mean " + near + "?";
    return invalid(message);
  }
  return ok_status();
}

Status require_object(const json& j, std::string_view what) {
  if (j.is_object()) return ok_status();
  return invalid(std::string(what) + ": expected a JSON object, got " +
                 j.type_name());
}

// Reads the objects and durations that ObjectReader does not know.
class Fields {
 public:
  Fields(const json& j, std::string what) : j_(j), what_(std::move(what)) {}

  const json* find(std::string_view key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status duration(std::string_view key, Duration& out) const {
    const json* v = find(key);
    if (v == nullptr) return ok_status();
    if (!v->is_string()) return type_error(key, "a duration string", *v);
    Result<Duration> d = parse_duration(v->get<std::string>());
    if (!d.ok()) return field_error(key, d.error().message);
    out = *d;
    return ok_status();
  }

  Status integer(std::string_view key, int& out) const {
    const json* v = find(key);
    if (v == nullptr) return ok_status();
    if (!v->is_number_integer()) return type_error(key, "an integer", *v);
    bool fits = v->is_number_unsigned() ? v->get<std::uint64_t>() <= INT_MAX
                                        : v->get<std::int64_t>() >= INT_MIN &&
                                              v->get<std::int64_t>() <= INT_MAX;
    if (!fits)
      return field_error(key, "integer out of range, got " + v->dump());
    out = v->get<int>();
    return ok_status();
  }

  Status strings(std::string_view key,
                 std::map<std::string, std::string>& out) const {
    const json* v = find(key);
    if (v == nullptr) return ok_status();
    if (!v->is_object()) {
      return type_error(key, "an object of strings", *v);
    }
    out.clear();
    for (const auto& [k, item] : v->items()) {
      if (!item.is_string()) {
        return type_error(key, "an object of strings", item);
      }
      out[k] = item.get<std::string>();
    }
    return ok_status();
  }

  Status field_error(std::string_view key, std::string_view detail) const {
    return invalid(what_ + ": field \"" + std::string(key) +
                   "\": " + std::string(detail));
  }
  Status type_error(std::string_view key, std::string_view expected,
                    const json& got) const {
    return field_error(
        key, "expected " + std::string(expected) + ", got " + got.type_name());
  }

 private:
  const json& j_;
  std::string what_;
};

template <class Enum>
Status enumeration(const json& j, std::string_view key,
                   std::optional<Enum> (*from)(std::string_view),
                   std::string_view allowed, Enum& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return ok_status();
  if (!it->is_string()) {
    return invalid("job: field \"" + std::string(key) +
                   "\": expected a string, got " + it->type_name());
  }
  std::string text = it->get<std::string>();
  std::optional<Enum> v = from(text);
  if (!v) {
    return invalid("job: field \"" + std::string(key) + "\": expected " +
                   std::string(allowed) + ", got " + detail::quoted(text));
  }
  out = *v;
  return ok_status();
}

Status decode_retries(const json& j, RetryPolicy& r) {
  NW_RETURN_IF_ERROR(require_object(j, "job.retries"));
  NW_RETURN_IF_ERROR(check_fields(j, "job.retries",
                                  {"max", "backoff", "max_backoff", "jitter"}));
  Fields f(j, "job.retries");
  NW_RETURN_IF_ERROR(f.integer("max", r.max));
  NW_RETURN_IF_ERROR(f.duration("backoff", r.backoff));
  NW_RETURN_IF_ERROR(f.duration("max_backoff", r.max_backoff));
  api::ObjectReader reader(j, "job.retries");
  reader.optional("jitter", r.jitter);
  return reader.status();
}

Status decode_placement(const json& j, Placement& p) {
  NW_RETURN_IF_ERROR(require_object(j, "job.placement"));
  NW_RETURN_IF_ERROR(
      check_fields(j, "job.placement", {"all", "count", "labels"}));
  Fields f(j, "job.placement");
  NW_RETURN_IF_ERROR(f.integer("count", p.count));
  NW_RETURN_IF_ERROR(f.strings("labels", p.labels));
  api::ObjectReader reader(j, "job.placement");
  reader.optional("all", p.all);
  return reader.status();
}

const std::vector<std::string>& top_fields() {
  static const auto* fields = new std::vector<std::string>{
      "name",        "kind",     "command",           "shell",
      "env",         "workdir",  "schedule",          "timezone",
      "concurrency", "missed",   "starting_deadline", "timeout",
      "retries",     "priority", "placement",         "output_limit",
      "enabled"};
  return *fields;
}

}  // namespace

json job_to_json(const JobSpec& job) {
  json j = json::object();
  j["name"] = job.name;
  j["kind"] = to_string(job.kind);
  j["command"] = job.command;
  j["shell"] = job.shell;
  j["env"] = string_map(job.env);
  j["workdir"] = job.workdir;
  j["schedule"] = job.schedule;
  j["timezone"] = job.timezone;
  j["concurrency"] = to_string(job.concurrency);
  j["missed"] = to_string(job.missed);
  j["starting_deadline"] = format_duration(job.starting_deadline);
  j["timeout"] = format_duration(job.timeout);
  j["retries"] = {{"max", job.retries.max},
                  {"backoff", format_duration(job.retries.backoff)},
                  {"max_backoff", format_duration(job.retries.max_backoff)},
                  {"jitter", job.retries.jitter}};
  j["priority"] = job.priority;
  j["placement"] = {{"all", job.placement.all},
                    {"count", job.placement.count},
                    {"labels", string_map(job.placement.labels)}};
  j["output_limit"] = job.output_limit;
  j["enabled"] = job.enabled;
  return j;
}

std::string encode_job(const JobSpec& job) {
  return api::to_body(job_to_json(job));
}

Result<JobSpec> decode_job(std::string_view body) {
  Result<json> j = api::parse_object(body, "job");
  if (!j.ok()) return invalid(j.error().message);
  return job_from_value(*j);
}

Result<JobSpec> job_from_value(const json& j) {
  NW_RETURN_IF_ERROR(require_object(j, "job"));
  NW_RETURN_IF_ERROR(check_fields(j, "job", top_fields()));
  JobSpec job;
  {
    api::ObjectReader r(j, "job");
    r.required("name", job.name);
    r.optional("command", job.command);
    r.optional("shell", job.shell);
    r.optional("workdir", job.workdir);
    r.required("schedule", job.schedule);
    r.optional("timezone", job.timezone);
    r.optional("output_limit", job.output_limit);
    r.optional("enabled", job.enabled);
    if (!r.status().ok()) return invalid(r.status().error().message);
  }
  NW_RETURN_IF_ERROR(
      enumeration(j, "kind", &job_kind_from_string, "\"shell\"", job.kind));
  NW_RETURN_IF_ERROR(enumeration(j, "concurrency", &concurrency_from_string,
                                 "\"allow\", \"forbid\" or \"replace\"",
                                 job.concurrency));
  NW_RETURN_IF_ERROR(enumeration(j, "missed", &missed_from_string,
                                 "\"skip\", \"run-once\" or \"run-all\"",
                                 job.missed));
  Fields f(j, "job");
  NW_RETURN_IF_ERROR(f.strings("env", job.env));
  NW_RETURN_IF_ERROR(f.duration("starting_deadline", job.starting_deadline));
  NW_RETURN_IF_ERROR(f.duration("timeout", job.timeout));
  NW_RETURN_IF_ERROR(f.integer("priority", job.priority));
  if (const json* r = f.find("retries")) {
    NW_RETURN_IF_ERROR(decode_retries(*r, job.retries));
  }
  if (const json* p = f.find("placement")) {
    NW_RETURN_IF_ERROR(decode_placement(*p, job.placement));
  }
  NW_RETURN_IF_ERROR(validate(job));
  return job;
}

}  // namespace nw::config
