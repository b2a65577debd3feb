#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/raft/log_storage.h"
#include "agent/wal/wal_storage.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/raft/storage_conformance.h"

// Helpers for the WAL tests: opening, comparing two storages by everything
// LogStorage lets a caller observe, and damaging real files.
namespace nw::wal::test {

using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::LogIndex;
using raft::Membership;
using raft::NodeId;
using raft::SnapshotMeta;
using raft::Term;

inline WalOptions no_sync(std::uint64_t segment_bytes = 64 << 20) {
  return WalOptions{segment_bytes, false};
}

inline std::unique_ptr<WalStorage> open_ok(const std::string& dir,
                                           WalOptions opts = {}) {
  auto r = WalStorage::open(dir, opts);
  if (!r.ok()) FAIL("open " << dir << ": " << r.error().to_string());
  return std::move(r).value();
}

inline Entry entry(std::uint64_t term, std::uint64_t index,
                   std::string data = {}) {
  return Entry{Term(term), LogIndex(index), EntryType::normal, std::move(data)};
}

inline SnapshotMeta meta(std::uint64_t index, std::uint64_t term,
                         std::set<NodeId> voters = {NodeId(1), NodeId(2),
                                                    NodeId(3)}) {
  return SnapshotMeta{LogIndex(index), Term(term),
                      Membership{std::move(voters), {NodeId(4)}}};
}

// What a caller can observe of a LogStorage, shared with the other
// storages' conformance tests.
using raft::test::describe;
using raft::test::observe;
using raft::test::Observed;

inline std::string segment_file(const WalStorage& w, std::size_t k) {
  return w.dir() + "/" + w.segment_names().at(k);
}

inline std::uint64_t file_size(const std::string& p) {
  return std::filesystem::file_size(p);
}

inline void copy_dir(const std::string& from, const std::string& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

inline void truncate_file(const std::string& p, std::uint64_t size) {
  std::filesystem::resize_file(p, size);
}

inline void flip_byte(const std::string& p, std::uint64_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
  REQUIRE(f.good());
}

inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& de : std::filesystem::directory_iterator(dir)) {
    out.push_back(de.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nw::wal::test
