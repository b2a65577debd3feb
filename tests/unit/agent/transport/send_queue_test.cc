#include "agent/transport/send_queue.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "agent/transport/backoff.h"

namespace nw::transport {
namespace {

using namespace std::chrono_literals;

TEST_SUITE("transport.send_queue") {
  TEST_CASE("push.refuses_past_the_frame_bound") {
    SendQueue q(3, 1000);
    CHECK(q.push("a"));
    CHECK(q.push("b"));
    CHECK(q.push("c"));
    CHECK_FALSE(q.push("d"));
    CHECK(q.frames() == 3);
    CHECK(q.bytes() == 3);
  }

  TEST_CASE("push.refuses_past_the_byte_bound") {
    SendQueue q(100, 10);
    CHECK(q.push(std::string(6, 'x')));
    CHECK_FALSE(q.push(std::string(5, 'y')));
    CHECK(q.push(std::string(4, 'z')));
    CHECK_FALSE(q.push("w"));
    CHECK(q.bytes() == 10);
  }

  TEST_CASE("take.batches_within_limits_and_counts_until_release") {
    SendQueue q(100, 1000);
    for (int i = 0; i < 10; ++i) REQUIRE(q.push(std::string(10, 'a' + i)));
    std::vector<std::string> batch;
    q.take(4, 1000, batch);
    REQUIRE(batch.size() == 4);
    CHECK(batch[0][0] == 'a');
    CHECK(batch[3][0] == 'd');
    CHECK(q.frames() == 10);  // taken frames still count
    q.release(4, 40);
    CHECK(q.frames() == 6);
    batch.clear();
    q.take(100, 25, batch);  // byte limit: two frames of 10
    CHECK(batch.size() == 2);
    batch.clear();
    q.take(100, 5, batch);  // always at least one
    CHECK(batch.size() == 1);
  }

  TEST_CASE("release.makes_room_again") {
    SendQueue q(1, 100);
    REQUIRE(q.push("x"));
    std::vector<std::string> batch;
    q.take(10, 100, batch);
    CHECK_FALSE(q.push("y"));
    q.release(1, 1);
    CHECK(q.push("y"));
    CHECK(q.has_waiting());
  }
}

TEST_SUITE("transport.backoff") {
  TEST_CASE("next.doubles_with_jitter_up_to_max_and_reset_restarts") {
    Backoff b(100ms, 1000ms, 42);
    Duration expected = 100ms;
    for (int i = 0; i < 10; ++i) {
      Duration d = b.next();
      CHECK(d >= expected / 2);
      CHECK(d <= expected);
      expected = std::min<Duration>(expected * 2, 1000ms);
    }
    b.reset();
    Duration d = b.next();
    CHECK(d >= 50ms);
    CHECK(d <= 100ms);
  }
}

}  // namespace
}  // namespace nw::transport
