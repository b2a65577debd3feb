#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/base/result.h"
#include "common/config/job_spec.h"

// The canonical JSON encoding of a JobSpec: the body of the job endpoints
// and the form the controller stores. docs/jobs.md ("JSON form") lists the
// fields; they are the TOML keys, with durations as strings ("15m"),
// output_limit as an integer number of bytes and placement as an object
// {"all", "count", "labels"}.
//
// Canonical: every field is present (defaults included), object keys are
// sorted, durations and numbers have one spelling, so encoding the same
// JobSpec always gives the same bytes and encode(decode(x)) == x for every
// x that encode produced. That lets the controller compare stored specs
// byte for byte.
//
// Unlike the other API types (common/api), decoding rejects unknown fields:
// a job spec is user intent, and an agent that silently dropped a field it
// does not know (say, a setting of a newer job kind) would run the job
// differently from what was written. Missing fields take the documented
// defaults, so older clients still work. Every decoded spec is validated.
//
// Stateless: every function may be called from any thread.
namespace nw::config {

// The canonical JSON value / compact body of a valid spec.
nlohmann::json job_to_json(const JobSpec& job);
std::string encode_job(const JobSpec& job);

// Decodes and validates. invalid_argument, e.g.
//   "job: not valid JSON: ..." / "job: expected a JSON object, got array"
//   "job: unknown field \"timeot\"; did you mean timeout?"
//   "job: field \"priority\": expected an integer, got string"
//   "job.report.priority: expected an integer from 0 to 9, got 12"
Result<JobSpec> decode_job(std::string_view body);
Result<JobSpec> job_from_value(const nlohmann::json& value);

}  // namespace nw::config
