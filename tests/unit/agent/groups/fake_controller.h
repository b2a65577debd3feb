#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "agent/groups/coordinator.h"

// What the coordinator tests stand in for the controller: topics, durable
// offsets, partition ranges and a clock, all in memory. Thread-safe, since
// the API tests call it from the server's pool threads.
namespace nw::groups::testing {

class FakeController {
 public:
  // The options a Coordinator needs, all bound to this object.
  CoordinatorOptions options() {
    CoordinatorOptions o;
    o.now = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return now_;
    };
    o.partition_count = [this](const std::string& topic) -> Result<int> {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = topics_.find(topic);
      if (it == topics_.end()) {
        return Error(Code::not_found, "no topic " + topic);
      }
      return it->second;
    };
    o.commit = [this](const std::string& group,
                      const std::vector<OffsetCommit>& offsets) -> Status {
      std::lock_guard<std::mutex> lock(mu_);
      ++commits_;
      for (const OffsetCommit& c : offsets) {
        offsets_[group][{c.topic, c.partition}] = c.offset;
      }
      return ok_status();
    };
    o.committed = [this](const std::string& group) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = offsets_.find(group);
      return it == offsets_.end() ? OffsetMap{} : it->second;
    };
    o.groups_with_offsets = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<std::string> out;
      for (const auto& [g, m] : offsets_) out.push_back(g);
      return out;
    };
    o.offsets_range = [this](const std::string& topic, int partition)
        -> Result<std::pair<std::uint64_t, std::uint64_t>> {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = ranges_.find({topic, partition});
      if (it == ranges_.end()) {
        return Error(Code::unavailable, "no leader for " + topic);
      }
      return it->second;
    };
    o.delete_offsets = [this](const std::string& group) -> Status {
      std::lock_guard<std::mutex> lock(mu_);
      if (offsets_.erase(group) == 0) {
        return Error(Code::not_found, "no offsets");
      }
      return ok_status();
    };
    o.new_member_id = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return "m-" + std::to_string(++next_member_);
    };
    return o;
  }

  // A topic of n partitions, each with offsets [start, high).
  void add_topic(const std::string& name, int n, std::uint64_t start = 0,
                 std::uint64_t high = 100) {
    std::lock_guard<std::mutex> lock(mu_);
    topics_[name] = n;
    for (int p = 0; p < n; ++p) ranges_[{name, p}] = {start, high};
  }
  void set_range(const std::string& topic, int p, std::uint64_t start,
                 std::uint64_t high) {
    std::lock_guard<std::mutex> lock(mu_);
    ranges_[{topic, p}] = {start, high};
  }
  void set_offset(const std::string& group, const std::string& topic, int p,
                  std::uint64_t offset) {
    std::lock_guard<std::mutex> lock(mu_);
    offsets_[group][{topic, p}] = offset;
  }
  OffsetMap offsets(const std::string& group) {
    std::lock_guard<std::mutex> lock(mu_);
    return offsets_[group];
  }
  bool has_group(const std::string& group) {
    std::lock_guard<std::mutex> lock(mu_);
    return offsets_.contains(group);
  }
  int commits() {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  MonoTime now_{std::chrono::hours(1)};
  std::map<std::string, int> topics_;
  std::map<std::pair<std::string, int>, std::pair<std::uint64_t, std::uint64_t>>
      ranges_;
  std::map<std::string, OffsetMap> offsets_;
  int commits_ = 0;
  int next_member_ = 0;
};

}  // namespace nw::groups::testing
