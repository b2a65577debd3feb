#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace nw::transport {

// One peer's bounded FIFO of encoded frames waiting to be written.
//
// The bounds count the frames waiting *and* those taken for a write that has
// not finished, so memory per peer stays below max_bytes however slow the
// socket is. A frame that would pass either bound is refused (the caller
// drops it and counts it: Raft retries), never queued: the queue never grows
// past its bounds.
//
// Lifecycle: one per known peer, kept across reconnects (frames queued while
// disconnected go out after the next handshake). Threads: none of its own;
// the Transport guards it with its mutex.
class SendQueue {
 public:
  SendQueue(std::size_t max_frames, std::size_t max_bytes)
      : max_frames_(max_frames), max_bytes_(max_bytes) {}

  // Appends `frame`; false, changing nothing, when it would pass a bound.
  bool push(std::string frame);
  // Moves the oldest frames into `batch` (appended): at least one, then
  // more while the batch stays within max_frames and max_bytes. They keep
  // counting against the bounds until release().
  void take(std::size_t max_frames, std::size_t max_bytes,
            std::vector<std::string>& batch);
  // Ends the accounting of a taken batch (written or lost).
  void release(std::size_t frames, std::size_t bytes);

  bool has_waiting() const { return !waiting_.empty(); }
  // Waiting plus taken-but-not-released.
  std::size_t frames() const { return frames_; }
  std::size_t bytes() const { return bytes_; }

 private:
  const std::size_t max_frames_;
  const std::size_t max_bytes_;
  std::deque<std::string> waiting_;
  std::size_t frames_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace nw::transport
