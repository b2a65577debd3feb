#pragma once

// What the topic integration tests share (topic_test.cc,
// topic_repair_test.cc): nwctl through one agent, describe and wait
// helpers, record batches written and read by hand, raw HTTP with curl.
// Header-only; each test binary includes it once.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "common/base/crc32c.h"
#include "tests/integration/test_cluster.h"
#include "tests/support/binaries.h"
#include "tests/support/local_http.h"

namespace nw::testsupport {

namespace fs = std::filesystem;

constexpr auto kTopicTimeout = 30s;

inline ProcessResult nwctl(
    const AgentProcess& via, std::vector<std::string> args,
    const std::optional<std::string>& input = std::nullopt,
    Duration timeout = 60s) {
  std::vector<std::string> full{"--addr", via.addr(), "--timeout", "20s"};
  full.insert(full.end(), args.begin(), args.end());
  return run_nwctl(full, {}, input, timeout);
}

inline json describe(const AgentProcess& via, const std::string& topic) {
  ProcessResult r = nwctl(via, {"-o", "json", "topic", "describe", topic});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  return parse(r.out);
}

// Waits until the cluster has a record of `node` with its API address (a
// joiner registers itself a moment after it is a member).
inline void wait_registered(const AgentProcess& via, const std::string& node) {
  REQUIRE(wait_until(
      [&] {
        json st = cluster_status(via, false);
        if (st.is_discarded()) return false;
        for (const json& m : st["members"]) {
          if (m["id"] == node && m["api_addr"] != "") return true;
        }
        return false;
      },
      kTopicTimeout, node + " registered"));
}

// Whether partition 0 in the describe answer `d` is online with no error
// and no reassignment left, its replicas and in-sync replicas both `want`
// (in any order).
inline bool settled_on(const json& d, std::vector<std::string> want) {
  if (d.is_discarded()) return false;
  const json& p = d["partition_states"][0];
  std::vector<std::string> reps = p["replicas"];
  std::vector<std::string> in_sync = p["in_sync"];
  std::sort(reps.begin(), reps.end());
  std::sort(in_sync.begin(), in_sync.end());
  std::sort(want.begin(), want.end());
  return p["status"] == "online" && p["error"] == "" &&
         p["target_replicas"].empty() && reps == want && in_sync == want;
}

// Waits until every partition of `topic` has a leader and is online.
inline json wait_online(const AgentProcess& via, const std::string& topic,
                        Duration timeout = kTopicTimeout) {
  json d;
  const bool ok = wait_until(
      [&] {
        d = describe(via, topic);
        if (d.is_discarded()) return false;
        for (const json& p : d["partition_states"]) {
          if (p["status"] != "online" || p["leader"] == "") return false;
        }
        return !d["partition_states"].empty();
      },
      timeout, "every partition online");
  INFO(d.dump(2));
  REQUIRE(ok);
  return d;
}

// Waits until every partition of `topic` is online and led by its preferred
// (first) replica, as the leader rebalancing leaves it.
inline json wait_preferred_leaders(const AgentProcess& via,
                                   const std::string& topic,
                                   Duration timeout = kTopicTimeout) {
  json d;
  const bool ok = wait_until(
      [&] {
        d = describe(via, topic);
        if (d.is_discarded() || d["partition_states"].empty()) return false;
        for (const json& p : d["partition_states"]) {
          if (p["status"] != "online" || p["leader"] != p["replicas"][0]) {
            return false;
          }
        }
        return true;
      },
      timeout, "every partition led by its preferred replica");
  INFO(d.dump(2));
  REQUIRE(ok);
  return d;
}

// One JSON object per line.
inline std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = parse(line);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// Everything committed in `topic`, read from the beginning.
inline std::vector<json> consume_all(const AgentProcess& via,
                                     const std::string& topic) {
  ProcessResult r =
      nwctl(via, {"-o", "json", "consume", topic, "--from", "earliest"},
            std::nullopt, 120s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return json_lines(r.out);
}

inline std::string numbered_lines(const std::string& prefix, int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += prefix + std::to_string(i) + "\n";
  return s;
}

// Record batches written and read by hand (docs/formats/segment.md), so the
// raw HTTP checks below do not share the client's encoder.
inline void put_le(std::string* s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

inline std::uint64_t get_le(std::string_view s, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<std::uint8_t>(s[pos + i]);
  }
  return v;
}

inline void put_varint(std::string* s, std::uint64_t v) {
  while (v >= 0x80) {
    s->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s->push_back(static_cast<char>(v));
}

inline void put_zigzag(std::string* s, std::int64_t v) {
  put_varint(s, (static_cast<std::uint64_t>(v) << 1) ^
                    static_cast<std::uint64_t>(v >> 63));
}

inline bool get_varint(std::string_view s, std::size_t* pos, std::uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *pos < s.size(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(s[(*pos)++]);
    *v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

inline bool get_zigzag(std::string_view s, std::size_t* pos, std::int64_t* v) {
  std::uint64_t u = 0;
  if (!get_varint(s, pos, &u)) return false;
  *v = static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
  return true;
}

constexpr std::size_t kBatchHeaderSize = 67;
constexpr std::size_t kSegmentHeaderSize = 36;

// One data batch of keyed records, not idempotent, as a producer sends it
// (base offset, Raft index and term 0).
inline std::string encode_batch(
    const std::vector<std::pair<std::string, std::string>>& records) {
  const std::int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::string body;
  for (std::size_t i = 0; i < records.size(); ++i) {
    std::string r;
    r.push_back(0);     // priority
    put_zigzag(&r, 0);  // timestamp delta
    put_varint(&r, i);  // offset delta
    put_zigzag(&r, static_cast<std::int64_t>(records[i].first.size()));
    r += records[i].first;
    put_zigzag(&r, static_cast<std::int64_t>(records[i].second.size()));
    r += records[i].second;
    put_varint(&r, 0);  // headers
    put_varint(&body, r.size());
    body += r;
  }
  std::string covered;  // bytes 33..end, under the CRC
  put_le(&covered, 0, 2);
  put_le(&covered, records.size(), 4);
  put_le(&covered, static_cast<std::uint64_t>(now_ms), 8);
  put_le(&covered, static_cast<std::uint64_t>(now_ms), 8);
  put_le(&covered, static_cast<std::uint64_t>(-1), 8);  // producer id
  put_le(&covered, 0xffffffffULL, 4);                   // base sequence
  covered += body;
  std::string out;
  put_le(&out, 0, 8);                         // base offset
  put_le(&out, 33 - 12 + covered.size(), 4);  // bytes after this field
  put_le(&out, 0, 8);                         // Raft index
  put_le(&out, 0, 8);                         // Raft term
  out.push_back(1);                           // magic
  put_le(&out, nw::crc32c(covered), 4);
  out += covered;
  REQUIRE(out.size() == kBatchHeaderSize + body.size());
  return out;
}

struct RawRecord {
  std::uint64_t offset = 0;
  std::string key;
  std::string value;
};

// The data records of a fetch body (whole batches); fails the test when a
// batch is malformed or its CRC does not match.
inline std::vector<RawRecord> decode_batches(std::string_view s) {
  std::vector<RawRecord> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    REQUIRE(pos + kBatchHeaderSize <= s.size());
    const std::uint64_t base = get_le(s, pos, 8);
    const std::size_t end = pos + 12 + get_le(s, pos + 8, 4);
    REQUIRE(end <= s.size());
    REQUIRE(static_cast<std::uint8_t>(s[pos + 28]) == 1);
    CHECK(get_le(s, pos + 29, 4) ==
          nw::crc32c(s.substr(pos + 33, end - pos - 33)));
    const bool control = (get_le(s, pos + 33, 2) & 0x10) != 0;
    const std::uint64_t count = get_le(s, pos + 35, 4);
    std::size_t q = pos + kBatchHeaderSize;
    for (std::uint64_t i = 0; !control && i < count; ++i) {
      std::uint64_t len = 0, delta = 0;
      std::int64_t ts = 0, key_len = 0, value_len = 0;
      REQUIRE(get_varint(s, &q, &len));
      const std::size_t record_end = q + len;
      REQUIRE(record_end <= end);
      ++q;  // priority
      REQUIRE(get_zigzag(s, &q, &ts));
      REQUIRE(get_varint(s, &q, &delta));
      RawRecord r;
      r.offset = base + delta;
      REQUIRE(get_zigzag(s, &q, &key_len));
      if (key_len > 0) {
        r.key = std::string(s.substr(q, static_cast<std::size_t>(key_len)));
        q += static_cast<std::size_t>(key_len);
      }
      REQUIRE(get_zigzag(s, &q, &value_len));
      if (value_len > 0) {
        r.value = std::string(s.substr(q, static_cast<std::size_t>(value_len)));
      }
      out.push_back(std::move(r));
      q = record_end;
    }
    pos = end;
  }
  return out;
}

// What an agent answered to a request sent with curl (the harness only has
// a GET): status, lower-cased headers, body.
inline HttpResponse curl_post(const AgentProcess& to, const std::string& path,
                              const fs::path& body_file,
                              const std::string& content_type) {
  ProcessResult r =
      run({"curl", "-sS", "-i", "-X", "POST", "-H", "Expect:", "-H",
           "Content-Type: " + content_type, "--data-binary",
           "@" + body_file.string(), "http://" + to.addr() + path},
          {}, std::nullopt, 60s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  HttpResponse resp;
  const std::size_t split = r.out.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  std::istringstream head(r.out.substr(0, split));
  std::string line;
  std::getline(head, line);
  REQUIRE(line.rfind("HTTP/1.", 0) == 0);
  resp.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& ch : name) ch = static_cast<char>(std::tolower(ch));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    resp.headers[name] = value;
  }
  resp.body = r.out.substr(split + 4);
  return resp;
}

// The local view (GET /v1/topics/{t}/local) of partition `p` on `a`.
inline json local_view(const AgentProcess& a, const std::string& topic, int p) {
  Result<HttpResponse> r =
      http_get(a.host_port(), "/v1/topics/" + topic + "/local");
  if (!r.ok() || r->status != 200) return json(json::value_t::discarded);
  json j = parse(r->body);
  if (j.is_discarded() || !j["partitions"].is_array()) return j;
  for (const json& v : j["partitions"]) {
    if (v["partition"] == p) return v;
  }
  return json(json::value_t::discarded);
}

inline std::vector<fs::path> segment_files(const fs::path& data_dir,
                                           const std::string& topic) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e :
       fs::recursive_directory_iterator(data_dir / "partitions", ec)) {
    const std::string p = e.path().string();
    if (p.find("/" + topic + ".") != std::string::npos &&
        e.path().extension() == ".log") {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nw::testsupport
