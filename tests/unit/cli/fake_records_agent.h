#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "common/http/server.h"
#include "common/records/record_batch.h"

namespace nw::ctl::test {

// An in-memory stand-in for nwagent's topic and group endpoints
// (docs/api.md, "Topics" and "Consumer groups"), on a free port: one
// topic, a log per partition built from the produced batches, producer-id
// deduplication, and a group coordinator that assigns every partition to
// each member and starts a new generation at each join. Failures can be
// injected into produce and fetch. It checks what the contract says a client
// must send (a whole batch, the content type, sequences in order) and records
// the bodies.
//
// Threads: handlers run on the server's pool; every accessor locks.
class FakeRecordsAgent {
 public:
  FakeRecordsAgent(std::string topic, std::uint32_t partitions);
  ~FakeRecordsAgent();

  std::string addr() const;

  // The next n produce requests answer this error (the batch not written).
  void fail_produces(int n, Code code);
  // The next n produce requests are written but answered with this error
  // (as when the commit is slow: the client must retry the same batch).
  void write_then_fail(int n, Code code);
  // Every produce body received, in order.
  std::vector<std::string> produce_bodies();
  // The records of a partition's log.
  std::vector<records::Record> log(std::uint32_t partition);
  // Appends records to a partition directly (as if produced).
  void append(std::uint32_t partition, std::vector<records::Record> recs);
  // Offsets below this are "deleted by retention".
  void set_start_offset(std::uint32_t partition, std::uint64_t start);

  // Consumer groups.
  std::map<std::uint32_t, std::uint64_t> committed(const std::string& group);
  void set_committed(const std::string& group, std::uint32_t partition,
                     std::uint64_t offset);
  int joins();
  int leaves();
  // The next heartbeat answers not_found (the coordinator moved).
  void forget_members();
  // Starts a new generation of `group` in which every member is assigned
  // these partitions.
  void rebalance(const std::string& group, std::vector<std::uint32_t> parts);

 private:
  struct Partition {
    std::vector<std::string> batches;  // stamped, in offset order
    std::uint64_t next = 0;            // high watermark
    std::uint64_t start = 0;
  };
  struct ProducerState {
    std::int32_t next_sequence = 0;
    std::map<std::int32_t, std::uint64_t> base_by_sequence;
  };

  http::Response produce(const http::Request& req);
  http::Response fetch(const http::Request& req);
  http::Response offsets(const http::Request& req);
  http::Response group(const http::Request& req);
  std::uint64_t append_locked(std::uint32_t p, std::string batch);

  const std::string topic_;
  const std::uint32_t partitions_;
  std::mutex mu_;
  std::vector<Partition> parts_;
  std::map<std::pair<std::int64_t, std::uint32_t>, ProducerState> producers_;
  std::vector<std::string> bodies_;
  int fail_n_ = 0;
  Code fail_code_ = Code::unavailable;
  bool fail_after_write_ = false;
  std::map<std::string, std::map<std::uint32_t, std::uint64_t>> committed_;
  std::map<std::string, std::string> members_;          // member id -> group
  std::map<std::string, std::uint64_t> generation_;     // per group
  std::optional<std::vector<std::uint32_t>> assigned_;  // default: all
  int joins_ = 0;
  int leaves_ = 0;
  int next_member_ = 1;
  http::Server server_;
};

}  // namespace nw::ctl::test
