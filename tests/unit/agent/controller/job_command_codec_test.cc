#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "agent/controller/command.h"
#include "agent/raft/byte_io.h"
#include "agent/raft/rand.h"

// The codec of the job, run and lock commands (tags 14..22).
namespace nw::controller {
namespace {

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint32_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

// One or more samples of every new command type, in CommandType order.
std::vector<Command> job_samples() {
  std::vector<Command> out;
  out.emplace_back(PutJob{"report", R"({"name":"report"})", 1'700'000'000'000});
  out.emplace_back(PutJob{"", "", kMin});
  out.emplace_back(DeleteJob{"report"});
  out.emplace_back(SetJobEnabled{"report", false});
  out.emplace_back(SetJobEnabled{"report", true});
  out.emplace_back(CreateRun{"report", 1'700'000'000'000, 1, "nw-1", 0, 1,
                             1'700'000'030'000, 1'700'000'000'005});
  out.emplace_back(CreateRun{"", kMin, kMaxU32, "", kMaxU32, 0, kMax, kMin});
  out.emplace_back(CreateRun{"report", 5, 1, "nw-2", 0, 1, 30'005, 5, true});
  out.emplace_back(
      UpdateRun{7, 7, RunRecord::State::running, 0, "", 1000, 0, 31'000});
  out.emplace_back(UpdateRun{kMaxU64, 0, RunRecord::State::failed, -1,
                             "exit status 1", kMin, kMax, -1});
  out.emplace_back(UpdateRun{9, 3, RunRecord::State::lost,
                             std::numeric_limits<std::int32_t>::min(),
                             "lease expired", 0, 5, 0});
  out.emplace_back(RecordMissed{"report", 1'700'000'000'000, "job paused"});
  out.emplace_back(RecordMissed{"", kMin, ""});
  out.emplace_back(AcquireLock{"deploy", "nw-1/pid 42", 30'000, 1'000});
  out.emplace_back(AcquireLock{"", "", kMin, kMax});
  out.emplace_back(RenewLock{"deploy", "nw-1/pid 42", 17, 2'000, 30'000});
  out.emplace_back(RenewLock{"", "", kMaxU64, kMin, kMax});
  out.emplace_back(ReportRuns{});
  out.emplace_back(ReportRuns{
      {UpdateRun{7, 7, RunRecord::State::succeeded, 0, "exited", 1, 2, 0},
       UpdateRun{8, 8, RunRecord::State::failed, 3, "", 5, 9, 0}}});
  out.emplace_back(ReleaseLock{"deploy", "nw-1/pid 42", 17});
  out.emplace_back(ReleaseLock{"", "", 0});
  return out;
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char ch : s) {
    const auto b = static_cast<std::uint8_t>(ch);
    if (!out.empty()) out += ' ';
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

void expect_invalid(std::string_view bytes, std::string_view reason) {
  auto decoded = decode_command(bytes);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == Code::invalid_argument);
  CHECK_MESSAGE(decoded.error().message.find(reason) != std::string::npos,
                decoded.error().message);
}

TEST_SUITE("controller.command_codec") {
  TEST_CASE("round_trip.job_run_and_lock_commands") {
    std::vector<bool> seen(23, false);
    for (const Command& c : job_samples()) {
      const std::string bytes = encode_command(c);
      CHECK(static_cast<std::uint8_t>(bytes[0]) == kCommandFormatVersion);
      CHECK(static_cast<std::uint8_t>(bytes[1]) ==
            static_cast<std::uint8_t>(command_type(c)));
      auto decoded = decode_command(bytes);
      REQUIRE_MESSAGE(decoded.ok(), decoded.error().to_string());
      CHECK(*decoded == c);
      CHECK(encode_command(*decoded) == bytes);
      seen[static_cast<std::size_t>(command_type(c))] = true;
    }
    for (std::size_t t = 14; t < seen.size(); ++t) CHECK(seen[t]);
  }

  TEST_CASE("command_type.tags_of_the_new_types") {
    CHECK(command_type(PutJob{}) == CommandType::put_job);
    CHECK(static_cast<int>(CommandType::put_job) == 14);
    CHECK(command_type(DeleteJob{}) == CommandType::delete_job);
    CHECK(command_type(SetJobEnabled{}) == CommandType::set_job_enabled);
    CHECK(command_type(CreateRun{}) == CommandType::create_run);
    CHECK(command_type(UpdateRun{}) == CommandType::update_run);
    CHECK(command_type(RecordMissed{}) == CommandType::record_missed);
    CHECK(command_type(AcquireLock{}) == CommandType::acquire_lock);
    CHECK(command_type(RenewLock{}) == CommandType::renew_lock);
    CHECK(command_type(ReleaseLock{}) == CommandType::release_lock);
    CHECK(static_cast<int>(CommandType::release_lock) == 22);
    CHECK(to_string(CommandType::create_run) == "create_run");
    CHECK(to_string(CommandType::release_lock) == "release_lock");
  }

  TEST_CASE("encode.matches_documented_job_examples") {
    // docs/formats/controller-commands.md, "Examples".
    CHECK(hex(encode_command(DeleteJob{"j"})) == "01 0f 01 00 00 00 6a");
    CHECK(hex(encode_command(SetJobEnabled{"j", false})) ==
          "01 10 01 00 00 00 6a 00");
    CHECK(hex(encode_command(RecordMissed{"j", 1000, "x"})) ==
          "01 13 01 00 00 00 6a e8 03 00 00 00 00 00 00 01 00 00 00 78");
    CHECK(hex(encode_command(UpdateRun{7, 7, RunRecord::State::running, 0, "",
                                       1000, 0, 2000})) ==
          "01 12 07 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01 "
          "00 00 00 00 00 00 00 00 e8 03 00 00 00 00 00 00 "
          "00 00 00 00 00 00 00 00 d0 07 00 00 00 00 00 00");
    CHECK(hex(encode_command(ReleaseLock{"l", "h", 5})) ==
          "01 16 01 00 00 00 6c 01 00 00 00 68 05 00 00 00 00 00 00 00");
  }

  TEST_CASE("decode.every_prefix_of_a_job_command_fails_cleanly") {
    for (const Command& c : job_samples()) {
      const std::string bytes = encode_command(c);
      for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto decoded = decode_command(std::string_view(bytes).substr(0, n));
        REQUIRE_FALSE(decoded.ok());
        CHECK(decoded.error().code == Code::invalid_argument);
      }
      auto trailing = decode_command(bytes + '\0');
      REQUIRE_FALSE(trailing.ok());
      CHECK(trailing.error().message.find("trailing bytes") !=
            std::string::npos);
    }
  }

  TEST_CASE("decode.refuses_bad_bools_and_run_states") {
    std::string bytes = encode_command(SetJobEnabled{"j", true});
    bytes.back() = 2;
    expect_invalid(bytes, "set_job_enabled: enabled 2");
    bytes =
        encode_command(UpdateRun{1, 1, RunRecord::State::lost, 0, "", 0, 0, 0});
    CHECK(bytes[18] == 6);
    bytes[18] = 7;
    expect_invalid(bytes, "update_run: unknown run state 7");
    bytes[18] = static_cast<char>(0xff);
    expect_invalid(bytes, "unknown run state 255");
  }

  TEST_CASE("decode.huge_claimed_lengths_in_job_commands") {
    // put_job whose spec claims 4 GiB.
    std::string bytes;
    raft::put_u8(&bytes, 1);
    raft::put_u8(&bytes, 14);
    raft::put_u32(&bytes, 1);
    bytes += 'j';
    raft::put_u32(&bytes, 0xffffffffu);
    bytes += "{}";
    expect_invalid(bytes, "put_job: truncated in spec");
    // create_run whose agent claims more than is there.
    bytes = encode_command(CreateRun{"j", 1, 1, "a", 0, 1, 2, 1});
    bytes[19] = static_cast<char>(0xff);  // agent length byte 0
    expect_invalid(bytes, "create_run: truncated in agent");
    // acquire_lock whose holder claims more than is there.
    bytes = encode_command(AcquireLock{"l", "h", 1, 1});
    bytes[7] = static_cast<char>(0x7f);
    expect_invalid(bytes, "acquire_lock: truncated in holder");
  }

  TEST_CASE("decode.random_bytes_in_job_commands_never_crash") {
    raft::Rng rng(1234);
    const std::vector<Command> base = job_samples();
    int accepted = 0;
    for (int i = 0; i < 20000; ++i) {
      std::string bytes = encode_command(base[rng.uniform(base.size())]);
      const int flips = static_cast<int>(rng.between(1, 3));
      for (int f = 0; f < flips; ++f) {
        bytes[rng.uniform(bytes.size())] = static_cast<char>(rng.uniform(256));
      }
      auto decoded = decode_command(bytes);
      if (decoded.ok()) {
        ++accepted;
        CHECK(encode_command(*decoded) == bytes);
      } else {
        CHECK(decoded.error().code == Code::invalid_argument);
      }
    }
    CHECK(accepted > 0);
  }
}

}  // namespace
}  // namespace nw::controller
