#include "agent/transport/send_queue.h"

#include "common/base/assert.h"

namespace nw::transport {

bool SendQueue::push(std::string frame) {
  if (frames_ + 1 > max_frames_ || frame.size() > max_bytes_ - bytes_) {
    return false;
  }
  frames_ += 1;
  bytes_ += frame.size();
  waiting_.push_back(std::move(frame));
  return true;
}

void SendQueue::take(std::size_t max_frames, std::size_t max_bytes,
                     std::vector<std::string>& batch) {
  std::size_t n = 0;
  std::size_t size = 0;
  while (!waiting_.empty() &&
         (n == 0 ||
          (n < max_frames && size + waiting_.front().size() <= max_bytes))) {
    size += waiting_.front().size();
    batch.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
    ++n;
  }
}

void SendQueue::release(std::size_t frames, std::size_t bytes) {
  NW_ASSERT(frames <= frames_ && bytes <= bytes_,
            "send queue released more than it holds");
  frames_ -= frames;
  bytes_ -= bytes;
}

}  // namespace nw::transport
