// Integration tests of replicated topic partitions (issue 4): real nwagent
// processes, driven by the real nwctl (topic, produce, consume, group).
// Every wait is a condition with a deadline.

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
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common/base/crc32c.h"
#include "tests/integration/test_cluster.h"
#include "tests/support/binaries.h"
#include "tests/support/local_http.h"

namespace nw::testsupport {
namespace {

namespace fs = std::filesystem;

constexpr auto kTopicTimeout = 30s;

ProcessResult nwctl(const AgentProcess& via, std::vector<std::string> args,
                    const std::optional<std::string>& input = std::nullopt,
                    Duration timeout = 60s) {
  std::vector<std::string> full{"--addr", via.addr(), "--timeout", "20s"};
  full.insert(full.end(), args.begin(), args.end());
  return run_nwctl(full, {}, input, timeout);
}

json describe(const AgentProcess& via, const std::string& topic) {
  ProcessResult r = nwctl(via, {"-o", "json", "topic", "describe", topic});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  return parse(r.out);
}

// Waits until the cluster has a record of `node` with its API address (a
// joiner registers itself a moment after it is a member).
void wait_registered(const AgentProcess& via, const std::string& node) {
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
bool settled_on(const json& d, std::vector<std::string> want) {
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
json wait_online(const AgentProcess& via, const std::string& topic,
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
json wait_preferred_leaders(const AgentProcess& via, const std::string& topic,
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
std::vector<json> json_lines(const std::string& text) {
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
std::vector<json> consume_all(const AgentProcess& via,
                              const std::string& topic) {
  ProcessResult r =
      nwctl(via, {"-o", "json", "consume", topic, "--from", "earliest"},
            std::nullopt, 120s);
  INFO(r.describe());
  REQUIRE(r.exit_code == 0);
  return json_lines(r.out);
}

std::string numbered_lines(const std::string& prefix, int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += prefix + std::to_string(i) + "\n";
  return s;
}

// Record batches written and read by hand (docs/formats/segment.md), so the
// raw HTTP checks below do not share the client's encoder.
void put_le(std::string* s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}

std::uint64_t get_le(std::string_view s, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<std::uint8_t>(s[pos + i]);
  }
  return v;
}

void put_varint(std::string* s, std::uint64_t v) {
  while (v >= 0x80) {
    s->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s->push_back(static_cast<char>(v));
}

void put_zigzag(std::string* s, std::int64_t v) {
  put_varint(s, (static_cast<std::uint64_t>(v) << 1) ^
                    static_cast<std::uint64_t>(v >> 63));
}

bool get_varint(std::string_view s, std::size_t* pos, std::uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *pos < s.size(); shift += 7) {
    const auto b = static_cast<std::uint8_t>(s[(*pos)++]);
    *v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool get_zigzag(std::string_view s, std::size_t* pos, std::int64_t* v) {
  std::uint64_t u = 0;
  if (!get_varint(s, pos, &u)) return false;
  *v = static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
  return true;
}

constexpr std::size_t kBatchHeaderSize = 67;
constexpr std::size_t kSegmentHeaderSize = 36;

// One data batch of keyed records, not idempotent, as a producer sends it
// (base offset, Raft index and term 0).
std::string encode_batch(
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
std::vector<RawRecord> decode_batches(std::string_view s) {
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
HttpResponse curl_post(const AgentProcess& to, const std::string& path,
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
json local_view(const AgentProcess& a, const std::string& topic, int p) {
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

TEST_CASE("topic.produce_consume: across three agents, by key") {
  TestCluster c(3);
  ProcessResult created =
      nwctl(c.agents[0], {"-o", "json", "topic", "create", "orders",
                          "--partitions", "3", "--replicas", "3"});
  INFO(created.describe());
  REQUIRE(created.exit_code == 0);
  json d = wait_online(c.agents[1], "orders");
  for (const json& p : d["partition_states"]) {
    CHECK(p["replicas"].size() == 3);
  }
  // Preferred leaders are spread: three partitions, three distinct first
  // replicas.
  std::set<std::string> preferred;
  for (const json& p : d["partition_states"]) {
    preferred.insert(p["replicas"][0].get<std::string>());
  }
  CHECK(preferred.size() == 3);

  std::string input;
  for (int i = 0; i < 600; ++i) {
    input += "k" + std::to_string(i % 7) + ":v" + std::to_string(i) + "\n";
  }
  ProcessResult produced = nwctl(
      c.agents[1], {"-o", "json", "produce", "orders", "--key-separator", ":"},
      input, 120s);
  INFO(produced.describe());
  REQUIRE(produced.exit_code == 0);
  std::vector<json> acks = json_lines(produced.out);
  CHECK(acks.size() == 600);

  std::vector<json> records = consume_all(c.agents[2], "orders");
  REQUIRE(records.size() == 600);
  std::map<std::string, std::set<int>> partitions_of_key;
  std::map<int, std::vector<std::uint64_t>> offsets;
  std::set<std::string> values;
  for (const json& r : records) {
    partitions_of_key[r["key"].get<std::string>()].insert(
        r["partition"].get<int>());
    offsets[r["partition"].get<int>()].push_back(
        r["offset"].get<std::uint64_t>());
    values.insert(r["value"].get<std::string>());
    CHECK(r.contains("timestamp"));
    CHECK(r.contains("headers"));
  }
  CHECK(values.size() == 600);
  for (const auto& [key, parts] : partitions_of_key) {
    CAPTURE(key);
    CHECK(parts.size() == 1);  // one key, one partition
  }
  for (const auto& [p, offs] : offsets) {
    for (std::size_t i = 0; i < offs.size(); ++i) CHECK(offs[i] == i);
  }
  // Every acknowledgement names a record that is there.
  std::set<std::pair<int, std::uint64_t>> present;
  for (const json& r : records) {
    present.insert(
        {r["partition"].get<int>(), r["offset"].get<std::uint64_t>()});
  }
  for (const json& a : acks) {
    CHECK(present.count({a["partition"].get<int>(),
                         a["offset"].get<std::uint64_t>()}) == 1);
  }

  // Describe reports the high watermark of every partition.
  d = describe(c.agents[0], "orders");
  std::uint64_t total = 0;
  for (const json& p : d["partition_states"]) {
    total += p["high_watermark"].get<std::uint64_t>();
  }
  CHECK(total == 600);

  // Errors name the problem and use the documented exit codes.
  ProcessResult missing = nwctl(c.agents[0], {"topic", "describe", "nope"});
  CHECK(missing.exit_code == 3);
  ProcessResult dup = nwctl(
      c.agents[0],
      {"topic", "create", "orders", "--partitions", "1", "--replicas", "1"});
  CHECK(dup.exit_code == 4);
  ProcessResult too_many =
      nwctl(c.agents[0],
            {"topic", "create", "big", "--partitions", "1", "--replicas", "5"});
  CHECK(too_many.exit_code == 4);
  CHECK(too_many.err.find("replicas") != std::string::npos);

  // More partitions and another retention; the new partition comes online.
  ProcessResult altered =
      nwctl(c.agents[2], {"topic", "alter", "orders", "--partitions", "4",
                          "--retention-ms", "3600000"});
  INFO(altered.describe());
  REQUIRE(altered.exit_code == 0);
  d = wait_online(c.agents[0], "orders");
  CHECK(d["partition_states"].size() == 4);
  CHECK(d["retention_ms"] == 3600000);
  CHECK(nwctl(c.agents[0], {"topic", "alter", "orders", "--partitions", "2"})
            .exit_code == 2);  // never fewer: refused before asking

  // Delete: gone everywhere, files included.
  REQUIRE(nwctl(c.agents[1], {"topic", "delete", "orders"}).exit_code == 0);
  CHECK(nwctl(c.agents[0], {"topic", "describe", "orders"}).exit_code == 3);
  for (AgentProcess& a : c.agents) {
    REQUIRE(wait_until(
        [&] {
          std::error_code ec;
          for (const auto& e :
               fs::directory_iterator(a.data_dir() / "partitions", ec)) {
            if (e.path().filename().string().rfind("orders.", 0) == 0) {
              return false;
            }
          }
          return true;
        },
        kTopicTimeout, "the topic's files deleted"));
  }
}

TEST_CASE("topic.forwarding: a non-leader forwards produce and fetch") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "fwd", "--partitions", "1",
                              "--replicas", "3"})
              .exit_code == 0);
  json d = wait_preferred_leaders(c.agents[0], "fwd");
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  const AgentProcess& lead = c.by_id(leader);
  std::vector<AgentProcess*> others = c.followers_of(leader);
  REQUIRE(others.size() == 2);
  // Some records first, through nwctl, so the raw ones do not start at 0.
  REQUIRE(
      nwctl(lead, {"produce", "fwd"}, numbered_lines("n-", 0, 10)).exit_code ==
      0);

  // A produce (raw HTTP, one hand-made batch) sent to each non-leader: the
  // agent forwards it to the leader, whose answer names itself.
  const std::string path = "/v1/topics/fwd/partitions/0/records";
  std::map<std::uint64_t, std::pair<std::string, std::string>> sent;
  for (std::size_t i = 0; i < others.size(); ++i) {
    std::vector<std::pair<std::string, std::string>> batch;
    for (int k = 0; k < 5; ++k) {
      batch.emplace_back("key-" + std::to_string(i),
                         "raw-" + std::to_string(i) + "-" + std::to_string(k));
    }
    const fs::path file = c.dir.path() / ("batch" + std::to_string(i));
    {
      std::ofstream f(file, std::ios::binary);
      f << encode_batch(batch);
    }
    HttpResponse resp = curl_post(*others[i], path + "?acks=all", file,
                                  "application/vnd.nightwatch.batch");
    INFO(resp.body);
    REQUIRE(resp.status == 200);
    CHECK(resp.headers["nw-leader"] == lead.addr());
    json ack = parse(resp.body);
    REQUIRE_FALSE(ack.is_discarded());
    CHECK(ack["count"] == 5);
    CHECK(ack["duplicate"] == false);
    const std::uint64_t base = ack["base_offset"].get<std::uint64_t>();
    CHECK(base >= 10);
    for (std::size_t k = 0; k < batch.size(); ++k) {
      CHECK(sent.count(base + k) == 0);
      sent[base + k] = batch[k];
    }
  }
  REQUIRE(sent.size() == 10);

  // A fetch sent to each non-leader is forwarded too and returns the
  // batches the leader holds, byte for byte what was sent.
  for (AgentProcess* via : others) {
    Result<HttpResponse> got =
        http_get(via->host_port(),
                 path + "?offset=" + std::to_string(sent.begin()->first), 10s);
    NW_REQUIRE_OK(got);
    INFO(got->body);
    REQUIRE(got->status == 200);
    CHECK(got->headers["nw-leader"] == lead.addr());
    CHECK(got->headers["nw-high-watermark"] == "20");
    std::map<std::uint64_t, std::pair<std::string, std::string>> fetched;
    for (const RawRecord& r : decode_batches(got->body)) {
      if (r.offset >= sent.begin()->first) {
        fetched[r.offset] = {r.key, r.value};
      }
    }
    CHECK(fetched == sent);
  }
  // nwctl reads the same records (it routes to the leader itself).
  std::vector<json> records = consume_all(*others[0], "fwd");
  REQUIRE(records.size() == 20);
  for (const json& r : records) {
    const auto off = r["offset"].get<std::uint64_t>();
    if (off < 10) {
      CHECK(r["value"] == "n-" + std::to_string(off));
    } else {
      CHECK(r["key"] == sent[off].first);
      CHECK(r["value"] == sent[off].second);
    }
  }
}

TEST_CASE(
    "topic.leader_killed: acknowledged writes survive, none doubled, three "
    "partitions") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "events", "--partitions", "3",
                              "--replicas", "3"})
              .exit_code == 0);
  json d = wait_preferred_leaders(c.agents[0], "events");
  // The victim leads partition 0 (and maybe more).
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  AgentProcess& victim = c.by_id(leader);
  AgentProcess* via = c.followers_of(leader).at(0);

  // Keyed lines: a key always goes to the same partition, all three used.
  const int kMessages = 30000;
  auto key_of = [](int i) { return "k" + std::to_string(i % 11); };
  auto value_of = [](int i) { return "m-" + std::to_string(i); };
  std::string input;
  for (int i = 0; i < kMessages; ++i) {
    input += key_of(i) + ":" + value_of(i) + "\n";
  }
  ProcessResult produced;
  std::atomic<bool> producer_done{false};
  std::thread producer([&] {
    produced = nwctl(*via,
                     {"-o", "json", "produce", "events", "--idempotent",
                      "--key-separator", ":", "--batch-size", "100"},
                     input, 180s);
    producer_done = true;
  });
  // Kill a partition leader once a good part is in.
  auto total_hwm = [](const json& now) {
    std::uint64_t total = 0;
    for (const json& p : now["partition_states"]) {
      total += p["high_watermark"].get<std::uint64_t>();
    }
    return total;
  };
  const bool midway = wait_until(
      [&] {
        json now = describe(*via, "events");
        return !now.is_discarded() && total_hwm(now) > 3000;
      },
      60s, "produce under way");
  victim.kill();
  const bool killed_midway = !producer_done;
  producer.join();
  REQUIRE(midway);
  INFO(produced.err);
  CHECK(killed_midway);  // the kill landed while nwctl was producing
  std::vector<json> acks = json_lines(produced.out);
  MESSAGE("acknowledged " << acks.size() << " of " << kMessages
                          << ", nwctl exit " << produced.exit_code);
  CHECK(acks.size() > 3000);
  if (produced.exit_code == 0) CHECK(acks.size() == kMessages);

  NW_REQUIRE_OK(victim.restart(kTopicTimeout));
  // Once the returning agent has caught up, every partition is led by its
  // preferred replica again.
  wait_preferred_leaders(*via, "events");

  std::vector<json> records = consume_all(*via, "events");
  std::map<std::pair<int, std::uint64_t>, json> at;
  std::map<std::string, std::set<int>> partitions_of_key;
  std::set<std::string> seen;
  std::size_t doubles = 0;
  for (const json& r : records) {
    at[{r["partition"].get<int>(), r["offset"].get<std::uint64_t>()}] = r;
    partitions_of_key[r["key"].get<std::string>()].insert(
        r["partition"].get<int>());
    if (!seen.insert(r["value"].get<std::string>()).second) ++doubles;
  }
  CHECK(at.size() == records.size());
  CHECK(doubles == 0);  // idempotent: no message written twice
  for (const auto& [key, parts] : partitions_of_key) {
    CAPTURE(key);
    CHECK(parts.size() == 1);
  }
  std::set<int> acked_partitions;
  std::set<int> acked_lines;
  std::size_t missing = 0, wrong = 0, acked_twice = 0;
  for (const json& a : acks) {
    if (!a.contains("line")) {
      ++missing;
      continue;
    }
    const int i = a["line"].get<int>() - 1;  // lines count from 1
    const int p = a["partition"].get<int>();
    acked_partitions.insert(p);
    if (!acked_lines.insert(i).second) ++acked_twice;
    auto it = at.find({p, a["offset"].get<std::uint64_t>()});
    if (it == at.end()) {
      ++missing;
    } else if (it->second["value"] != value_of(i) ||
               it->second["key"] != key_of(i)) {
      ++wrong;
    }
  }
  CHECK(acked_partitions.size() == 3);
  CHECK(acked_twice == 0);
  CHECK(missing == 0);  // every acknowledged (partition, offset) is there
  CHECK(wrong == 0);    // ... with the line acknowledged there
  // Nothing was written that was not sent.
  std::size_t unknown = 0;
  for (const json& r : records) {
    const std::string v = r["value"].get<std::string>();
    const int i = std::stoi(v.substr(2));
    unknown += v != value_of(i) || r["key"] != key_of(i) || i >= kMessages;
  }
  CHECK(unknown == 0);
}

// Starts `nwctl consume --group` writing its JSON lines to `out`.
pid_t start_member(const AgentProcess& via, const std::string& topic,
                   const std::string& group, const fs::path& out) {
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  SpawnSpec spec;
  spec.argv = {nwctl_binary(), "--addr",   via.addr(), "-o",
               "json",         "consume",  topic,      "--group",
               group,          "--follow", "--from",   "earliest"};
  spec.stdout_fd = fd;
  Result<pid_t> pid = spawn(spec);
  ::close(fd);
  REQUIRE(pid.ok());
  return *pid;
}

// The records a member printed (its JSON lines).
std::vector<json> records_in(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return json_lines(ss.str());
}

// `nwctl -o json group describe G`; discarded when it failed.
json describe_group(const AgentProcess& via, const std::string& group) {
  ProcessResult r = nwctl(via, {"-o", "json", "group", "describe", group});
  if (r.exit_code != 0) return json(json::value_t::discarded);
  return parse(r.out);
}

// Whether the group has `members` members with `each` partitions each.
bool balanced(const json& g, std::size_t members, std::size_t each) {
  if (g.is_discarded() || g["members"].size() != members) return false;
  for (const json& m : g["members"]) {
    if (m["assignment"].size() != each) return false;
  }
  return true;
}

// Whether every partition of the group's topic has a committed offset at
// its high watermark.
bool caught_up(const json& g, std::size_t partitions) {
  if (g.is_discarded() || g["offsets"].size() != partitions) return false;
  for (const json& o : g["offsets"]) {
    if (!o.contains("lag") || o["lag"] != 0) return false;
  }
  return true;
}

TEST_CASE("topic.consumer_group: a member dies, the others take over") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "jobs", "--partitions", "6",
                              "--replicas", "3"})
              .exit_code == 0);
  wait_online(c.agents[0], "jobs");
  std::vector<fs::path> outs;
  std::vector<pid_t> members;
  for (int i = 0; i < 3; ++i) {
    outs.push_back(c.dir.path() / ("member" + std::to_string(i) + ".out"));
    members.push_back(start_member(c.agents[i], "jobs", "g", outs.back()));
  }
  // Three members, six partitions: two each.
  json g;
  REQUIRE(wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return balanced(g, 3, 2);
      },
      kTopicTimeout, "three members with two partitions each"));
  // Member 0's partitions (its client id ends with its pid).
  std::set<int> victim_parts;
  for (const json& m : g["members"]) {
    const std::string id = m["client_id"].get<std::string>();
    const std::string suffix = "-" + std::to_string(members[0]);
    if (id.size() > suffix.size() &&
        id.compare(id.size() - suffix.size(), suffix.size(), suffix) == 0) {
      for (const json& a : m["assignment"]) {
        victim_parts.insert(a["partition"].get<int>());
      }
    }
  }
  INFO(g.dump(2));
  REQUIRE(victim_parts.size() == 2);

  // Round robin: every partition gets some of each batch of lines.
  REQUIRE(nwctl(c.agents[0], {"produce", "jobs"}, numbered_lines("a-", 0, 3000),
                120s)
              .exit_code == 0);
  REQUIRE(wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return caught_up(g, 6);
      },
      60s, "the group caught up on a-"));
  // Member 0 freezes (no more fetches, commits or heartbeats), then more
  // is produced: its partitions' new records are for whoever takes them
  // over. Then it dies without leaving; its session times out.
  ::kill(members[0], SIGSTOP);
  REQUIRE(nwctl(c.agents[0], {"produce", "jobs"}, numbered_lines("b-", 0, 3000),
                120s)
              .exit_code == 0);
  ::kill(members[0], SIGKILL);
  int status = 0;
  ::waitpid(members[0], &status, 0);
  // What member 0 committed is final now. (Had its session already timed
  // out, a survivor may have committed more; the check below accepts
  // either's output below the committed offset.)
  g = describe_group(c.agents[0], "g");
  REQUIRE_FALSE(g.is_discarded());
  std::map<int, std::uint64_t> committed_at_kill;
  for (const json& o : g["offsets"]) {
    committed_at_kill[o["partition"].get<int>()] =
        o["committed"].get<std::uint64_t>();
  }
  for (int p : victim_parts) {
    CAPTURE(p);
    CHECK(committed_at_kill[p] > 0);  // member 0 did commit a-
  }
  REQUIRE(wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return balanced(g, 2, 3);
      },
      kTopicTimeout, "two members with three partitions each"));
  REQUIRE(nwctl(c.agents[1], {"produce", "jobs"}, numbered_lines("c-", 0, 3000),
                120s)
              .exit_code == 0);
  // Everything is consumed and committed: lag 0 everywhere.
  const bool all_caught_up = wait_until(
      [&] {
        g = describe_group(c.agents[0], "g");
        return caught_up(g, 6);
      },
      60s, "the group caught up");
  INFO(g.dump(2));
  REQUIRE(all_caught_up);
  for (std::size_t i = 1; i < members.size(); ++i) {
    ::kill(members[i], SIGINT);
    ::waitpid(members[i], &status, 0);
  }

  // What is stored, (partition, offset) -> value.
  std::map<std::pair<int, std::uint64_t>, std::string> stored;
  for (const json& r : consume_all(c.agents[2], "jobs")) {
    stored[{r["partition"].get<int>(), r["offset"].get<std::uint64_t>()}] =
        r["value"];
  }
  REQUIRE(stored.size() == 9000);
  // What the group delivered: anything the survivors printed, and what
  // member 0 printed only below the offsets committed when it died (what it
  // printed after its last commit does not count).
  std::map<std::pair<int, std::uint64_t>, std::string> delivered;
  std::size_t wrong = 0, taken_over = 0;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    for (const json& r : records_in(outs[i])) {
      const int p = r["partition"].get<int>();
      const auto off = r["offset"].get<std::uint64_t>();
      if (i == 0 && off >= committed_at_kill[p]) continue;
      if (i != 0 && victim_parts.count(p) != 0) ++taken_over;
      auto it = stored.find({p, off});
      if (it == stored.end() || it->second != r["value"]) ++wrong;
      delivered[{p, off}] = r["value"];
    }
  }
  CHECK(wrong == 0);
  // The survivors read member 0's partitions after it died (at least the
  // b- records produced while it was frozen).
  MESSAGE(
      "records of member 0's partitions read by the survivors: " << taken_over);
  CHECK(taken_over > 0);
  for (int p : victim_parts) {
    CAPTURE(p);
    std::uint64_t end = 0;
    for (const auto& [key, v] : stored) {
      if (key.first == p) end = std::max(end, key.second + 1);
    }
    CHECK(committed_at_kill[p] < end);  // something was left to take over
  }
  // At least once: nothing committed was skipped (duplicates are allowed
  // around the rebalance).
  std::size_t missing = 0;
  for (const auto& [key, v] : stored) missing += delivered.count(key) == 0;
  CHECK(missing == 0);
  std::set<std::string> values;
  for (const auto& [key, v] : delivered) values.insert(v);
  for (const char* prefix : {"a-", "b-", "c-"}) {
    for (int i = 0; i < 3000; ++i) {
      missing += values.count(prefix + std::to_string(i)) == 0;
    }
  }
  CHECK(missing == 0);

  // With every member gone, offsets can be reset: a plan first, then done.
  REQUIRE(wait_until(
      [&] {
        ProcessResult r =
            nwctl(c.agents[0], {"-o", "json", "group", "describe", "g"});
        return r.exit_code == 0 && parse(r.out)["members"].empty();
      },
      kTopicTimeout, "the group has no members"));
  ProcessResult plan =
      nwctl(c.agents[1], {"-o", "json", "group", "reset-offsets", "g",
                          "--topic", "jobs", "--to-earliest"});
  INFO(plan.describe());
  REQUIRE(plan.exit_code == 0);
  CHECK(parse(plan.out)["executed"] == false);
  ProcessResult done =
      nwctl(c.agents[1], {"-o", "json", "group", "reset-offsets", "g",
                          "--topic", "jobs", "--to-earliest", "--execute"});
  REQUIRE(done.exit_code == 0);
  ProcessResult after =
      nwctl(c.agents[2], {"-o", "json", "group", "describe", "g"});
  REQUIRE(after.exit_code == 0);
  for (const json& o : parse(after.out)["offsets"]) {
    CHECK(o["committed"] == 0);
  }
  REQUIRE(nwctl(c.agents[0], {"group", "delete", "g"}).exit_code == 0);
  CHECK(nwctl(c.agents[0], {"group", "describe", "g"}).exit_code == 3);
}

std::vector<fs::path> segment_files(const fs::path& data_dir,
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

TEST_CASE("topic.retention: old segments are deleted, the start moves") {
  TestCluster c(1);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "logs", "--partitions", "1",
                              "--replicas", "1", "--segment-bytes", "1048576",
                              "--retention-bytes", "1048576"})
              .exit_code == 0);
  wait_online(c.agents[0], "logs");
  const std::string value(1000, 'x');
  std::string input;
  for (int i = 0; i < 4000; ++i) input += value + std::to_string(i) + "\n";
  REQUIRE(nwctl(c.agents[0], {"produce", "logs"}, input, 120s).exit_code == 0);
  json d;
  REQUIRE(wait_until(
      [&] {
        d = describe(c.agents[0], "logs");
        return !d.is_discarded() &&
               d["partition_states"][0]["start_offset"].get<std::uint64_t>() >
                   0;
      },
      kTopicTimeout, "retention moved the start offset"));
  const std::uint64_t start =
      d["partition_states"][0]["start_offset"].get<std::uint64_t>();
  CHECK(segment_files(c.agents[0].data_dir(), "logs").size() <= 3);
  std::vector<json> records = consume_all(c.agents[0], "logs");
  REQUIRE_FALSE(records.empty());
  CHECK(records.front()["offset"].get<std::uint64_t>() >= start);
  CHECK(records.back()["offset"].get<std::uint64_t>() == 3999);
}

TEST_CASE(
    "topic.corruption: a damaged segment takes only its partition offline") {
  TestCluster c(1);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "audit", "--partitions", "2",
                              "--replicas", "1", "--segment-bytes", "1048576"})
              .exit_code == 0);
  wait_online(c.agents[0], "audit");
  const std::string value(1000, 'y');
  std::string input;
  for (int i = 0; i < 3000; ++i) input += value + "\n";
  REQUIRE(
      nwctl(c.agents[0], {"produce", "audit", "--partition", "0"}, input, 120s)
          .exit_code == 0);
  REQUIRE(c.agents[0].stop().has_value());
  std::vector<fs::path> segs;
  for (const fs::path& p : segment_files(c.agents[0].data_dir(), "audit")) {
    if (p.parent_path().filename() == "0") segs.push_back(p);
  }
  REQUIRE(segs.size() >= 2);
  // Flip a byte in the middle of the first (not the last) segment.
  {
    std::fstream f(segs.front(),
                   std::ios::in | std::ios::out | std::ios::binary);
    const auto mid =
        static_cast<std::streamoff>(fs::file_size(segs.front()) / 2);
    f.seekg(mid);
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x5a);
    f.seekp(mid);
    f.write(&b, 1);
  }
  NW_REQUIRE_OK(c.agents[0].restart(kTopicTimeout));
  json d;
  const bool offline = wait_until(
      [&] {
        d = describe(c.agents[0], "audit");
        return !d.is_discarded() &&
               d["partition_states"][0]["status"] == "offline" &&
               d["partition_states"][1]["status"] == "online";
      },
      kTopicTimeout, "partition 0 offline, partition 1 online");
  INFO(d.dump(2));
  INFO(c.agents[0].log_tail(30));
  REQUIRE(offline);
  const std::string error = d["partition_states"][0]["error"];
  CHECK(error.find("crc mismatch") != std::string::npos);
  CHECK(error.find(segs.front().filename().string()) != std::string::npos);
  // The agent and the other partition go on.
  CHECK(nwctl(c.agents[0], {"produce", "audit", "--partition", "1"}, "ok\n")
            .exit_code == 0);
  ProcessResult status = nwctl(c.agents[0], {"status"});
  CHECK(status.exit_code == 0);
}

// A batch of a segment file: where it starts and how long it is.
struct BatchAt {
  std::uint64_t pos = 0;
  std::uint64_t size = 0;
  bool control = false;
};

// The batches of a segment file, walked by their length fields.
std::vector<BatchAt> batches_of(const fs::path& segment) {
  std::ifstream in(segment, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  std::vector<BatchAt> out;
  std::uint64_t pos = kSegmentHeaderSize;
  while (pos + kBatchHeaderSize <= bytes.size()) {
    BatchAt b;
    b.pos = pos;
    b.size = 12 + get_le(bytes, pos + 8, 4);
    b.control = (get_le(bytes, pos + 33, 2) & 0x10) != 0;
    out.push_back(b);
    pos += b.size;
  }
  return out;
}

TEST_CASE(
    "topic.corruption.follower: a damaged replica of three degrades its "
    "partition, a reassignment repairs it") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "ledger", "--partitions", "1",
                              "--replicas", "3", "--segment-bytes", "1048576"})
              .exit_code == 0);
  json d = wait_preferred_leaders(c.agents[0], "ledger");
  const std::string leader =
      d["partition_states"][0]["leader"].get<std::string>();
  std::vector<AgentProcess*> followers = c.followers_of(leader);
  REQUIRE(followers.size() == 2);
  AgentProcess& damaged = *followers[0];
  AgentProcess& healthy = *followers[1];
  const std::string damaged_id = damaged.data_dir().filename().string();
  const std::string healthy_id = healthy.data_dir().filename().string();

  // About 3 MB in batches of about 100 KB: several segments of several
  // batches each.
  auto value_of = [](int i) {
    return std::string(990, 'y') + "-" + std::to_string(i);
  };
  std::string input;
  for (int i = 0; i < 3000; ++i) input += value_of(i) + "\n";
  REQUIRE(nwctl(c.agents[0], {"produce", "ledger", "--batch-size", "100"},
                input, 120s)
              .exit_code == 0);
  // The follower to damage has it all before it stops.
  REQUIRE(wait_until(
      [&] {
        json v = local_view(damaged, "ledger", 0);
        return !v.is_discarded() && v["high_watermark"] == 3000;
      },
      kTopicTimeout, "the follower has every record"));
  REQUIRE(damaged.stop().has_value());
  std::vector<fs::path> segs = segment_files(damaged.data_dir(), "ledger");
  REQUIRE(segs.size() >= 2);
  // Flip a byte in the middle of a data batch that is not the last one of
  // the first (sealed) segment: a CRC mismatch at that batch's position.
  const fs::path& seg = segs.front();
  std::vector<BatchAt> batches = batches_of(seg);
  const BatchAt* target = nullptr;
  for (std::size_t i = 0; i + 1 < batches.size(); ++i) {
    if (!batches[i].control) {
      target = &batches[i];
      break;
    }
  }
  REQUIRE(target != nullptr);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(target->pos + target->size / 2);
    f.seekg(at);
    char b = 0;
    f.read(&b, 1);
    b = static_cast<char>(b ^ 0x5a);
    f.seekp(at);
    f.write(&b, 1);
    REQUIRE(f.good());
  }
  const std::string where = "segment " + seg.filename().string() +
                            ": crc mismatch at byte " +
                            std::to_string(target->pos);
  NW_REQUIRE_OK(damaged.restart(kTopicTimeout));

  // Degraded: a leader serves, the error names the replica, file and byte.
  const bool degraded = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        return !d.is_discarded() &&
               d["partition_states"][0]["status"] == "degraded";
      },
      kTopicTimeout, "the partition degraded");
  INFO(d.dump(2));
  INFO(damaged.log_tail(30));
  REQUIRE(degraded);
  const json& row = d["partition_states"][0];
  CHECK(row["leader"] != "");
  CHECK(row["leader"] != damaged_id);
  const std::string error = row["error"];
  CHECK(error.find("replica on " + damaged_id + ": " + where) !=
        std::string::npos);
  ProcessResult table =
      nwctl(damaged, {"-o", "table", "topic", "describe", "ledger"});
  INFO(table.describe());
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("degraded: replica on " + damaged_id) !=
        std::string::npos);
  CHECK(table.out.find(where) != std::string::npos);
  // The agent with the damaged replica goes on.
  CHECK(nwctl(damaged, {"status"}).exit_code == 0);

  // The healthy majority takes produce and fetch, also through the agent
  // with the damaged replica.
  ProcessResult more = nwctl(damaged, {"-o", "json", "produce", "ledger"},
                             numbered_lines("more-", 0, 500), 120s);
  INFO(more.describe());
  CHECK(more.exit_code == 0);
  CHECK(json_lines(more.out).size() == 500);
  auto check_intact = [&](const AgentProcess& via) {
    std::vector<json> records = consume_all(via, "ledger");
    REQUIRE(records.size() == 3500);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const std::string want = i < 3000 ? value_of(static_cast<int>(i))
                                        : "more-" + std::to_string(i - 3000);
      wrong += records[i]["offset"] != i || records[i]["value"] != want;
    }
    CHECK(wrong == 0);
  };
  check_intact(damaged);
  // The damaged replica answers nothing: it drops out of the in-sync list
  // (within an election timeout), and the partition stays degraded.
  const bool dropped = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        if (d.is_discarded()) return false;
        const json& p = d["partition_states"][0];
        for (const json& id : p["in_sync"]) {
          if (id == damaged_id) return false;
        }
        return p["status"] == "degraded" && p["in_sync"].size() == 2;
      },
      kTopicTimeout, "the damaged replica out of the in-sync list");
  INFO(d.dump(2));
  CHECK(dropped);

  // docs/runbooks/offline-partition.md, step 2: reassign the partition off
  // the damaged agent, to a new one.
  AgentProcess n4 = c.joiner("n4", "n4");
  NW_REQUIRE_OK(n4.start(kTopicTimeout));
  wait_registered(c.agents[0], "n4");
  const std::vector<std::string> target_replicas{leader, healthy_id, "n4"};
  ProcessResult moved =
      nwctl(healthy, {"topic", "reassign", "ledger", "--partition", "0",
                      "--replicas", leader + "," + healthy_id + ",n4"});
  INFO(moved.describe());
  REQUIRE(moved.exit_code == 0);
  const bool repaired = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        return settled_on(d, target_replicas);
      },
      60s, "the partition online on the leader, the healthy follower, n4");
  INFO(d.dump(2));
  REQUIRE(repaired);
  // The damaged agent deleted its copy.
  CHECK(wait_until(
      [&] { return segment_files(damaged.data_dir(), "ledger").empty(); },
      kTopicTimeout, "the damaged copy deleted"));
  check_intact(n4);

  // Step 2's last paragraph: back onto the original agents. The agent that
  // held the damaged copy gets a fresh replica that copies from the leader.
  ProcessResult back = nwctl(
      healthy, {"topic", "reassign", "ledger", "--partition", "0", "--replicas",
                leader + "," + damaged_id + "," + healthy_id});
  INFO(back.describe());
  REQUIRE(back.exit_code == 0);
  const bool returned = wait_until(
      [&] {
        d = describe(healthy, "ledger");
        return settled_on(d, {leader, damaged_id, healthy_id});
      },
      60s, "the partition online on its original agents");
  INFO(d.dump(2));
  REQUIRE(returned);
  CHECK(
      wait_until([&] { return segment_files(n4.data_dir(), "ledger").empty(); },
                 kTopicTimeout, "n4's copy deleted"));
  // The fresh copy on the formerly damaged agent holds every record.
  CHECK(wait_until(
      [&] {
        json v = local_view(damaged, "ledger", 0);
        return !v.is_discarded() && v["status"] == "online" &&
               v["error"] == "" && v["high_watermark"] == 3500;
      },
      kTopicTimeout, "the fresh replica caught up"));
  check_intact(damaged);
}

TEST_CASE("topic.reassign: a replica moves to a new agent, data intact") {
  TestCluster c(3);
  REQUIRE(nwctl(c.agents[0], {"topic", "create", "moves", "--partitions", "1",
                              "--replicas", "3"})
              .exit_code == 0);
  wait_online(c.agents[0], "moves");
  REQUIRE(nwctl(c.agents[0], {"produce", "moves"},
                numbered_lines("r-", 0, 2000), 120s)
              .exit_code == 0);
  AgentProcess n4 = c.joiner("n4", "n4");
  NW_REQUIRE_OK(n4.start(kTopicTimeout));
  wait_registered(c.agents[0], "n4");
  ProcessResult moved =
      nwctl(c.agents[0], {"topic", "reassign", "moves", "--partition", "0",
                          "--replicas", "n2,n3,n4"});
  INFO(moved.describe());
  REQUIRE(moved.exit_code == 0);
  json d;
  REQUIRE(wait_until(
      [&] {
        d = describe(c.agents[0], "moves");
        if (d.is_discarded()) return false;
        const json& p = d["partition_states"][0];
        return p["status"] == "online" && p["target_replicas"].empty() &&
               p["replicas"] == json::array({"n2", "n3", "n4"});
      },
      60s, "the partition moved to n2, n3, n4"));
  // n1 deleted its copy.
  REQUIRE(wait_until(
      [&] { return segment_files(c.agents[0].data_dir(), "moves").empty(); },
      kTopicTimeout, "n1's copy deleted"));
  // n4 holds the data: with n2 and n3 down... keep it simple: stop n2, the
  // partition still has a majority (n3, n4), and every record is there.
  REQUIRE(c.by_id("n2").stop().has_value());
  wait_online(n4, "moves", 60s);
  std::vector<json> records = consume_all(n4, "moves");
  REQUIRE(records.size() == 2000);
  for (std::size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i]["value"] == "r-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace nw::testsupport
