#include "agent/controller/job_record.h"

namespace nw::controller {

std::string_view to_string(RunRecord::State s) {
  switch (s) {
    case RunRecord::State::dispatched:
      return "dispatched";
    case RunRecord::State::running:
      return "running";
    case RunRecord::State::succeeded:
      return "succeeded";
    case RunRecord::State::failed:
      return "failed";
    case RunRecord::State::timed_out:
      return "timed_out";
    case RunRecord::State::cancelled:
      return "cancelled";
    case RunRecord::State::lost:
      return "lost";
  }
  return "?";
}

std::optional<RunRecord::State> run_state_from_string(std::string_view text) {
  for (int i = 0; i <= static_cast<int>(RunRecord::State::lost); ++i) {
    const auto s = static_cast<RunRecord::State>(i);
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

}  // namespace nw::controller
