#include "agent/controller/topic_record.h"

#include <algorithm>

namespace nw::controller {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                    ch == '-';
    if (!ok) return false;
  }
  return true;
}

std::int64_t effective_segment_ms(const TopicRecord& t) {
  if (t.segment_ms > 0) return t.segment_ms;
  if (t.retention_ms > 0) return std::min(kDefaultSegmentMs, t.retention_ms);
  return kDefaultSegmentMs;
}

}  // namespace nw::controller
