#include "agent/raft/raft_log.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace nw::raft {

RaftLog::RaftLog(LogStorage* storage)
    : storage_(storage),
      unstable_offset_(storage->last_index() + 1),
      committed_(storage->first_index() - 1),
      applied_(storage->first_index() - 1) {
  // The host restarts its state machine from the snapshot, so everything up
  // to it counts as applied.
  const LogIndex snap = storage->snapshot_meta().index;
  committed_ = std::max(committed_, snap);
  applied_ = std::max(applied_, snap);
}

LogIndex RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_->first_index();
}

LogIndex RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_.back().index;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return unstable_offset_ - 1;
}

Term RaftLog::last_term() const {
  auto t = term(last_index());
  NW_ASSERT(t.has_value(), "last_term: the last entry has no term");
  return *t;
}

std::optional<Term> RaftLog::term(LogIndex i) const {
  if (i > last_index()) return std::nullopt;
  if (i >= unstable_offset_) {
    return unstable_[i.value() - unstable_offset_.value()].term;
  }
  if (unstable_snapshot_) {
    if (i == unstable_snapshot_->meta.index) {
      return unstable_snapshot_->meta.term;
    }
    return std::nullopt;
  }
  if (i == LogIndex(0)) return Term(0);
  auto t = storage_->term(i);
  if (!t.ok()) return std::nullopt;
  return *t;
}

bool RaftLog::match_term(LogIndex i, Term t) const {
  auto mine = term(i);
  return mine.has_value() && *mine == t;
}

bool RaftLog::is_up_to_date(LogIndex last, Term t) const {
  const Term my_term = last_term();
  return t > my_term || (t == my_term && last >= last_index());
}

LogIndex RaftLog::find_conflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!match_term(e.index, e.term)) return e.index;
  }
  return LogIndex(0);
}

LogIndex RaftLog::find_conflict_by_term(LogIndex i, Term t) const {
  i = std::min(i, last_index());
  while (i > LogIndex(0)) {
    auto mine = term(i);
    if (!mine.has_value() || *mine <= t) break;
    i = i - 1;
  }
  return i;
}

void RaftLog::append(std::vector<Entry> ents) {
  if (ents.empty()) return;
  const LogIndex first = ents.front().index;
  NW_ASSERT(first > committed_, "append: would overwrite committed entries");
  NW_ASSERT(first <= last_index() + 1, "append: gap in the log");
  if (first >= unstable_offset_) {
    unstable_.resize(first.value() - unstable_offset_.value());
  } else {
    // Replaces part of the stable log: the host's append will delete the
    // stale suffix from storage too.
    unstable_.clear();
    unstable_offset_ = first;
  }
  for (Entry& e : ents) unstable_.push_back(std::move(e));
}

Result<std::vector<Entry>> RaftLog::entries(LogIndex lo, LogIndex hi,
                                            std::uint64_t max_bytes) const {
  if (lo < first_index()) {
    return Error(Code::not_found, "entries: compacted", {}, "raft");
  }
  NW_ASSERT(hi <= last_index() + 1, "entries: beyond the log");
  std::vector<Entry> out;
  if (lo >= hi) return out;
  std::uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    auto stored =
        storage_->entries(lo, std::min(hi, unstable_offset_), max_bytes);
    if (!stored.ok()) return std::move(stored).error();
    out = std::move(stored).value();
    for (const Entry& e : out) bytes += entry_size(e);
    if (out.back().index + 1 < std::min(hi, unstable_offset_)) return out;
  }
  for (LogIndex i = std::max(lo, unstable_offset_); i < hi; i = i + 1) {
    const Entry& e = unstable_[i.value() - unstable_offset_.value()];
    bytes += entry_size(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

void RaftLog::commit_to(LogIndex i) {
  if (i <= committed_) return;
  NW_ASSERT(i <= last_index(), "commit_to: beyond the last index");
  committed_ = i;
}

void RaftLog::applied_to(LogIndex i) {
  if (i <= applied_) return;
  NW_ASSERT(i <= committed_, "applied_to: beyond the commit index");
  applied_ = i;
}

bool RaftLog::has_next_committed() const {
  return !unstable_snapshot_ && committed_ > applied_;
}

std::vector<Entry> RaftLog::next_committed() const {
  if (!has_next_committed()) return {};
  auto ents = entries(applied_ + 1, committed_ + 1,
                      std::numeric_limits<std::uint64_t>::max());
  NW_ASSERT(ents.ok(), "next_committed: committed entries are unreadable");
  return std::move(ents).value();
}

LogIndex RaftLog::stable_last() const {
  if (unstable_snapshot_) return LogIndex(0);
  return unstable_offset_ - 1;
}

void RaftLog::stable_to(LogIndex i, Term t) {
  if (i < unstable_offset_ || i > last_index()) return;
  if (unstable_[i.value() - unstable_offset_.value()].term != t) return;
  const auto n =
      static_cast<std::ptrdiff_t>(i.value() + 1 - unstable_offset_.value());
  unstable_.erase(unstable_.begin(), unstable_.begin() + n);
  unstable_offset_ = i + 1;
}

void RaftLog::stable_snapshot() { unstable_snapshot_.reset(); }

void RaftLog::restore(Snapshot snap) {
  NW_ASSERT(snap.meta.index > committed_, "restore: snapshot is not newer");
  committed_ = snap.meta.index;
  unstable_.clear();
  unstable_offset_ = snap.meta.index + 1;
  unstable_snapshot_ = std::move(snap);
}

}  // namespace nw::raft
