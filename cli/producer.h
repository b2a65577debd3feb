#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/records_client.h"
#include "common/base/result.h"
#include "common/base/units.h"
#include "common/records/record_batch.h"

namespace nw::ctl {

struct ProducerOptions {
  std::uint32_t partitions = 1;
  std::size_t batch_records = 500;        // seal a batch at this many records
  std::size_t batch_bytes = 1024 * 1024;  // ... or at about this many bytes
  // -1: not idempotent. Otherwise every batch carries it and a sequence per
  // partition from 0, and a retry resends the same bytes.
  std::int64_t producer_id = -1;
  int workers = 4;  // requests in flight at once, one client each
  // At most this many batches of one partition in flight (0: no limit).
  // Keep 1 when order matters, and always with a producer id: a sequence
  // that arrives before the one before it is refused.
  int max_in_flight_per_partition = 1;
  // A batch not acknowledged this long after its first attempt fails.
  Duration delivery_timeout{10000};
  Duration first_backoff{100};
  Duration max_backoff{2000};
};

// How one batch ended. Every record given to add() ends up in exactly one
// outcome, acknowledged or not.
struct BatchOutcome {
  std::uint32_t partition = 0;
  std::vector<std::uint64_t> tags;  // add()'s tags, in the batch's order
  std::size_t payload_bytes = 0;    // keys + values
  std::optional<std::uint64_t> base_offset;  // nullopt: acks=none, or failed
  bool duplicate = false;
  std::chrono::microseconds latency{0};  // of the request that succeeded
  int attempts = 0;            // 0: never sent (an earlier batch failed)
  std::optional<Error> error;  // set when the batch was not acknowledged
};

// Sends one batch to a partition; one per worker (it owns a client).
using BatchSender = std::function<Result<ProduceAck>(std::uint32_t partition,
                                                     const std::string& batch)>;
using SenderFactory = std::function<Result<BatchSender>()>;

// Groups records into batches per partition and sends them on a few worker
// threads, several partitions at once, retrying unavailable and timeout
// errors with backoff until the delivery timeout. Shared by `nwctl
// produce` and `nwctl bench produce`.
//
// Lifecycle: construct, start(), add()/flush() any number of times,
// close(); the destructor closes. After the first batch fails for good the
// producer fails: add() returns that error, batches not yet sent are
// reported failed without being sent (their sequences could never be
// written after the gap), and close() returns it.
//
// Threads: start/add/flush/close belong to one caller thread, which alone
// touches the batches being filled. `options.workers` threads send
// sealed batches; they call `on_outcome` one at a time (serialized), for
// one partition in the order the batches were sealed when
// max_in_flight_per_partition is 1.
class Producer {
 public:
  using OutcomeHandler = std::function<void(const BatchOutcome&)>;

  Producer(ProducerOptions options, SenderFactory factory,
           OutcomeHandler on_outcome);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Makes one sender per worker and starts the workers. The factory's
  // error otherwise.
  Status start();
  // Adds a record to its partition's batch, sealing the batch when full;
  // blocks while too many sealed batches wait. The producer's failure once
  // it has failed. REQUIRES: started; partition < options.partitions.
  Status add(std::uint32_t partition, records::Record record,
             std::uint64_t tag);
  // Seals every partly filled batch so it is sent now.
  void flush();
  // Flushes, waits for every batch to end, stops the workers. The first
  // failure, or ok.
  Status close();

 private:
  struct Filling {
    std::vector<records::Record> records;
    std::vector<std::uint64_t> tags;
    std::size_t bytes = 0;
    std::size_t payload = 0;
  };
  struct Batch {
    std::uint32_t partition = 0;
    std::string bytes;
    std::vector<std::uint64_t> tags;
    std::size_t payload = 0;
  };

  void seal(std::uint32_t partition);
  void worker(BatchSender sender);
  BatchOutcome send(BatchSender& sender, Batch& batch);
  // True when the worker may send the batch now.
  bool sendable(const Batch& batch) const;

  const ProducerOptions options_;
  SenderFactory factory_;
  OutcomeHandler on_outcome_;

  // The caller thread's.
  std::vector<Filling> filling_;
  std::vector<std::int32_t> next_sequence_;
  bool started_ = false;
  bool closed_ = false;
  std::vector<std::thread> threads_;

  std::mutex mu_;
  std::condition_variable cv_;    // queue, in-flight counts or state changed
  std::deque<Batch> queue_;       // GUARDED_BY(mu_)
  std::vector<int> in_flight_;    // GUARDED_BY(mu_)
  bool closing_ = false;          // GUARDED_BY(mu_)
  std::optional<Error> failure_;  // GUARDED_BY(mu_)
  std::size_t max_queued_ = 8;

  std::mutex outcome_mu_;  // serializes on_outcome_
};

}  // namespace nw::ctl
