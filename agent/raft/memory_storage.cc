#include "agent/raft/memory_storage.h"

#include <algorithm>
#include <string>
#include <utility>

namespace nw::raft {
namespace {

Error storage_error(Code code, std::string msg) {
  return Error(code, std::move(msg), {}, "raft");
}

}  // namespace

MemoryStorage::MemoryStorage() : ents_(1) {}

Result<Snapshot> MemoryStorage::snapshot() const {
  if (snapshot_.meta.index == LogIndex(0)) {
    return storage_error(Code::not_found, "snapshot: none taken yet");
  }
  return snapshot_;
}

Result<Term> MemoryStorage::term(LogIndex i) const {
  const LogIndex base = ents_[0].index;
  if (i < base || i > last_index()) {
    return storage_error(Code::not_found,
                         "term: index " + std::to_string(i.value()) +
                             " is compacted or not yet written");
  }
  return ents_[i.value() - base.value()].term;
}

Result<std::vector<Entry>> MemoryStorage::entries(
    LogIndex lo, LogIndex hi, std::uint64_t max_bytes) const {
  const LogIndex base = ents_[0].index;
  if (lo <= base) {
    return storage_error(
        Code::not_found,
        "entries: index " + std::to_string(lo.value()) + " is compacted");
  }
  NW_ASSERT(lo < hi && hi <= last_index() + 1, "entries: range out of log");
  std::vector<Entry> out;
  std::uint64_t bytes = 0;
  for (LogIndex i = lo; i < hi; i = i + 1) {
    const Entry& e = ents_[i.value() - base.value()];
    bytes += entry_size(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Status MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return ok_status();
  const LogIndex base = ents_[0].index;
  const LogIndex first = entries.front().index;
  NW_ASSERT(first > base && first <= last_index() + 1,
            "append: entries leave a gap or overwrite the compacted prefix");
  ents_.resize(first.value() - base.value());
  for (const Entry& e : entries) {
    NW_ASSERT(e.index == ents_.back().index + 1, "append: non-consecutive");
    ents_.push_back(e);
  }
  return ok_status();
}

Status MemoryStorage::set_hard_state(const HardState& hs) {
  hard_state_ = hs;
  return ok_status();
}

Status MemoryStorage::apply_snapshot(Snapshot snap) {
  if (snap.meta.index < snapshot_.meta.index) {
    return storage_error(Code::failed_precondition,
                         "apply snapshot: older than the current snapshot");
  }
  ents_.assign(1,
               Entry{snap.meta.term, snap.meta.index, EntryType::normal, {}});
  snapshot_ = std::move(snap);
  return ok_status();
}

Status MemoryStorage::create_snapshot(SnapshotMeta meta, std::string data) {
  if (meta.index < snapshot_.meta.index || meta.index > last_index() ||
      meta.index < ents_[0].index) {
    return storage_error(Code::failed_precondition,
                         "create snapshot: index " +
                             std::to_string(meta.index.value()) +
                             " is older than the current snapshot or not in "
                             "the log");
  }
  snapshot_ = Snapshot{std::move(meta), std::move(data)};
  return ok_status();
}

Status MemoryStorage::compact(LogIndex up_to) {
  const LogIndex base = ents_[0].index;
  if (up_to <= base) return ok_status();
  if (up_to > snapshot_.meta.index || up_to > last_index()) {
    return storage_error(Code::failed_precondition,
                         "compact: index " + std::to_string(up_to.value()) +
                             " is not covered by a snapshot");
  }
  const auto cut = static_cast<std::ptrdiff_t>(up_to.value() - base.value());
  ents_.erase(ents_.begin(), ents_.begin() + cut);
  ents_[0].data.clear();
  return ok_status();
}

}  // namespace nw::raft
