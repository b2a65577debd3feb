#include "cli/producer.h"

#include <algorithm>
#include <random>

#include "cli/command_util.h"
#include "common/base/time.h"

namespace nw::ctl {
namespace {

// A rough size of a record in a batch, to seal batches near batch_bytes.
std::size_t approx_record_bytes(const records::Record& r) {
  std::size_t n = 16;
  if (r.key) n += r.key->size();
  if (r.value) n += r.value->size();
  for (const records::Header& h : r.headers) {
    n += 4 + h.key.size() + (h.value ? h.value->size() : 0);
  }
  return n;
}

std::size_t payload_bytes(const records::Record& r) {
  return (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
}

}  // namespace

Producer::Producer(ProducerOptions options, SenderFactory factory,
                   OutcomeHandler on_outcome)
    : options_(std::move(options)),
      factory_(std::move(factory)),
      on_outcome_(std::move(on_outcome)) {
  filling_.resize(options_.partitions);
  next_sequence_.assign(options_.partitions, 0);
  in_flight_.assign(options_.partitions, 0);
  max_queued_ = static_cast<std::size_t>(std::max(4, options_.workers * 2));
}

Producer::~Producer() {
  if (started_ && !closed_) (void)close();
}

Status Producer::start() {
  NW_ASSERT(!started_, "Producer::start twice");
  std::vector<BatchSender> senders;
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    NW_ASSIGN_OR_RETURN(BatchSender s, factory_());
    senders.push_back(std::move(s));
  }
  started_ = true;
  for (BatchSender& s : senders) {
    threads_.push_back(
        spawn_thread([this, s = std::move(s)]() mutable { worker(s); }));
  }
  return ok_status();
}

Status Producer::add(std::uint32_t partition, records::Record record,
                     std::uint64_t tag) {
  NW_ASSERT(started_ && !closed_, "Producer::add outside start..close");
  NW_ASSERT(partition < options_.partitions, "partition out of range");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_) return *failure_;
  }
  Filling& f = filling_[partition];
  f.bytes += approx_record_bytes(record);
  f.payload += payload_bytes(record);
  f.records.push_back(std::move(record));
  f.tags.push_back(tag);
  if (f.records.size() >= options_.batch_records ||
      f.bytes >= options_.batch_bytes) {
    seal(partition);
  }
  return ok_status();
}

void Producer::flush() {
  for (std::uint32_t p = 0; p < options_.partitions; ++p) {
    if (!filling_[p].records.empty()) seal(p);
  }
}

void Producer::seal(std::uint32_t partition) {
  Filling& f = filling_[partition];
  Batch b;
  b.partition = partition;
  std::int32_t seq = -1;
  if (options_.producer_id >= 0) {
    seq = next_sequence_[partition];
    // Sequences wrap after 2^31 - 1 records of one partition in one run.
    std::int64_t next = static_cast<std::int64_t>(seq) +
                        static_cast<std::int64_t>(f.records.size());
    next_sequence_[partition] =
        static_cast<std::int32_t>(next % (std::int64_t{1} << 31));
  }
  b.bytes = records::build_batch(f.records, options_.producer_id, seq);
  b.tags = std::move(f.tags);
  b.payload = f.payload;
  f = Filling{};
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return queue_.size() < max_queued_ || failure_; });
  queue_.push_back(std::move(b));
  cv_.notify_all();
}

bool Producer::sendable(const Batch& b) const {
  return options_.max_in_flight_per_partition <= 0 ||
         in_flight_[b.partition] < options_.max_in_flight_per_partition;
}

void Producer::worker(BatchSender sender) {
  while (true) {
    Batch batch;
    bool skip = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      std::deque<Batch>::iterator it;
      cv_.wait(lock, [&] {
        if (failure_ && !queue_.empty()) {
          it = queue_.begin();
          return true;
        }
        it = std::find_if(queue_.begin(), queue_.end(),
                          [&](const Batch& b) { return sendable(b); });
        return it != queue_.end() || (closing_ && queue_.empty());
      });
      if (queue_.empty()) return;  // closing
      batch = std::move(*it);
      queue_.erase(it);
      skip = failure_.has_value();
      ++in_flight_[batch.partition];
      cv_.notify_all();  // room in the queue
    }
    BatchOutcome out;
    if (skip) {
      out.partition = batch.partition;
      out.tags = std::move(batch.tags);
      out.payload_bytes = batch.payload;
      std::lock_guard<std::mutex> lock(mu_);
      out.error =
          Error(failure_->code,
                "not sent after an earlier failure: " + failure_->message,
                failure_->hint, "cli");
    } else {
      out = send(sender, batch);
    }
    if (out.error) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failure_) failure_ = out.error;
    }
    {
      std::lock_guard<std::mutex> lock(outcome_mu_);
      if (on_outcome_) on_outcome_(out);
    }
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_[out.partition];
    cv_.notify_all();
  }
}

BatchOutcome Producer::send(BatchSender& sender, Batch& batch) {
  BatchOutcome out;
  out.partition = batch.partition;
  out.tags = std::move(batch.tags);
  out.payload_bytes = batch.payload;
  const MonoTime deadline = mono_now() + options_.delivery_timeout;
  Duration backoff = options_.first_backoff;
  std::minstd_rand jitter(std::random_device{}());
  while (true) {
    ++out.attempts;
    MonoTime t0 = mono_now();
    Result<ProduceAck> ack = sender(batch.partition, batch.bytes);
    if (ack.ok()) {
      out.latency = std::chrono::duration_cast<std::chrono::microseconds>(
          mono_now() - t0);
      out.base_offset = ack->base_offset;
      out.duplicate = ack->duplicate;
      return out;
    }
    const Error& e = ack.error();
    // Without a producer id a timed-out batch may have been written, and
    // sending it again could write it twice.
    bool retriable = e.code == Code::unavailable ||
                     (e.code == Code::timeout && options_.producer_id >= 0);
    bool gave_up = false;
    if (retriable) {
      std::unique_lock<std::mutex> lock(mu_);
      if (mono_now() + backoff >= deadline || failure_) {
        gave_up = true;
      } else {
        // Woken early only when another batch failed for good.
        cv_.wait_for(lock, backoff, [&] { return failure_.has_value(); });
        gave_up = failure_.has_value();
      }
    }
    if (!retriable || gave_up) {
      Error err = e.wrap("partition " + std::to_string(batch.partition));
      if (retriable && out.attempts > 1) {
        err.message +=
            " (gave up after " + std::to_string(out.attempts) + " attempts)";
        if (err.hint.empty()) {
          err.hint =
              "raise --timeout to keep retrying longer, and check "
              "the partition with: nwctl topic describe";
        }
      }
      out.error = std::move(err);
      return out;
    }
    auto jittered = backoff + Duration(jitter() % (backoff.count() / 4 + 1));
    backoff = std::min(options_.max_backoff, jittered * 2);
  }
}

Status Producer::close() {
  if (closed_ || !started_) {
    closed_ = true;
    return ok_status();
  }
  flush();
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  closed_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_) return *failure_;
  return ok_status();
}

}  // namespace nw::ctl
