#include "fake_records_agent.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

namespace nw::ctl::test {
namespace {

http::Response error(Code code, std::string message) {
  return http::Response::error(Error(code, std::move(message)));
}

http::ServerOptions server_options() {
  http::ServerOptions o;
  o.listen = {"127.0.0.1", 0};
  o.threads = 8;
  return o;
}

std::uint64_t to_u64(const std::string& s) {
  return static_cast<std::uint64_t>(std::stoull(s));
}

}  // namespace

FakeRecordsAgent::FakeRecordsAgent(std::string topic, std::uint32_t partitions)
    : topic_(std::move(topic)),
      partitions_(partitions),
      parts_(partitions),
      server_(server_options()) {
  server_.route("GET", "/v1/topics/([^/]+)", "topic",
                [this](const http::Request& req) {
                  if (req.matches[1] != topic_) {
                    return error(Code::not_found,
                                 "topic \"" + req.matches[1] + "\": not found");
                  }
                  nlohmann::json states = nlohmann::json::array();
                  std::lock_guard<std::mutex> lock(mu_);
                  for (std::uint32_t p = 0; p < partitions_; ++p) {
                    states.push_back({{"partition", p},
                                      {"leader", "nw-1"},
                                      {"replicas", {"nw-1"}},
                                      {"in_sync", {"nw-1"}},
                                      {"high_watermark", parts_[p].next},
                                      {"start_offset", parts_[p].start},
                                      {"size_bytes", 0},
                                      {"status", "online"},
                                      {"error", ""}});
                  }
                  return http::Response::json(nlohmann::json{
                      {"name", topic_},
                      {"id", 1},
                      {"partitions", partitions_},
                      {"replicas", 1},
                      {"retention_ms", -1},
                      {"retention_bytes", -1},
                      {"segment_bytes", 1 << 20},
                      {"partition_states",
                       states}}.dump());
                });
  server_.route("POST", "/v1/topics/([^/]+)/partitions/([0-9]+)/records",
                "produce",
                [this](const http::Request& r) { return produce(r); });
  server_.route("GET", "/v1/topics/([^/]+)/partitions/([0-9]+)/records",
                "fetch", [this](const http::Request& r) { return fetch(r); });
  server_.route("GET", "/v1/topics/([^/]+)/offsets", "offsets",
                [this](const http::Request& r) { return offsets(r); });
  server_.route("POST", "/v1/groups/([^/]+)/(join|heartbeat|leave|offsets)",
                "group", [this](const http::Request& r) { return group(r); });
  server_.route("GET", "/v1/groups/([^/]+)/offsets", "group offsets",
                [this](const http::Request& r) { return group(r); });
  REQUIRE(server_.bind().ok());
  server_.start();
}

FakeRecordsAgent::~FakeRecordsAgent() { server_.stop(); }

std::string FakeRecordsAgent::addr() const {
  return "127.0.0.1:" + std::to_string(server_.port());
}

void FakeRecordsAgent::fail_produces(int n, Code code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_n_ = n;
  fail_code_ = code;
  fail_after_write_ = false;
}

void FakeRecordsAgent::write_then_fail(int n, Code code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_n_ = n;
  fail_code_ = code;
  fail_after_write_ = true;
}

std::vector<std::string> FakeRecordsAgent::produce_bodies() {
  std::lock_guard<std::mutex> lock(mu_);
  return bodies_;
}

std::vector<records::Record> FakeRecordsAgent::log(std::uint32_t p) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<records::Record> out;
  for (const std::string& b : parts_[p].batches) {
    auto recs = records::decode_records(b);
    REQUIRE(recs.ok());
    out.insert(out.end(), recs->begin(), recs->end());
  }
  return out;
}

void FakeRecordsAgent::append(std::uint32_t p,
                              std::vector<records::Record> recs) {
  std::lock_guard<std::mutex> lock(mu_);
  append_locked(p, records::build_batch(recs));
}

void FakeRecordsAgent::set_start_offset(std::uint32_t p, std::uint64_t start) {
  std::lock_guard<std::mutex> lock(mu_);
  parts_[p].start = start;
}

std::uint64_t FakeRecordsAgent::append_locked(std::uint32_t p,
                                              std::string batch) {
  Partition& part = parts_[p];
  std::uint64_t base = part.next;
  records::stamp_batch(&batch, base, 0, 0);
  auto info = records::read_batch_info(batch);
  REQUIRE(info.ok());
  part.next += info->record_count;
  part.batches.push_back(std::move(batch));
  return base;
}

http::Response FakeRecordsAgent::produce(const http::Request& req) {
  std::uint32_t p = static_cast<std::uint32_t>(to_u64(req.matches[2]));
  if (req.matches[1] != topic_ || p >= partitions_) {
    return error(Code::not_found, "no such topic or partition");
  }
  if (req.header("Content-Type") != "application/vnd.nightwatch.batch") {
    return error(Code::invalid_argument, "wrong content type");
  }
  auto info = records::read_batch_info(req.body);
  if (!info.ok() || info->size != req.body.size()) {
    return error(Code::invalid_argument, "the body is not one valid batch");
  }
  std::lock_guard<std::mutex> lock(mu_);
  bodies_.push_back(req.body);
  bool fail_after = false;
  if (fail_n_ > 0) {
    --fail_n_;
    if (!fail_after_write_) return error(fail_code_, "injected failure");
    fail_after = true;
  }
  std::uint64_t base = 0;
  bool duplicate = false;
  if (info->producer_id >= 0) {
    ProducerState& st = producers_[{info->producer_id, p}];
    auto seen = st.base_by_sequence.find(info->base_sequence);
    if (seen != st.base_by_sequence.end()) {
      base = seen->second;
      duplicate = true;
    } else if (info->base_sequence != st.next_sequence) {
      return error(Code::failed_precondition,
                   "sequence " + std::to_string(info->base_sequence) +
                       " skips ahead of " + std::to_string(st.next_sequence));
    } else {
      base = append_locked(p, req.body);
      st.base_by_sequence[info->base_sequence] = base;
      st.next_sequence += static_cast<std::int32_t>(info->record_count);
    }
  } else {
    base = append_locked(p, req.body);
  }
  if (fail_after) return error(fail_code_, "injected failure after write");
  if (req.param("acks") == "none") {
    return http::Response::json(nlohmann::json{{"partition", p}}.dump(), 202);
  }
  return http::Response::json(nlohmann::json{
      {"partition", p},
      {"base_offset", base},
      {"count", info->record_count},
      {"duplicate", duplicate}}.dump());
}

http::Response FakeRecordsAgent::fetch(const http::Request& req) {
  std::uint32_t p = static_cast<std::uint32_t>(to_u64(req.matches[2]));
  if (req.matches[1] != topic_ || p >= partitions_) {
    return error(Code::not_found, "no such topic or partition");
  }
  std::uint64_t offset = to_u64(req.param("offset"));
  std::uint64_t max_bytes =
      req.has_param("max_bytes") ? to_u64(req.param("max_bytes")) : 1 << 20;
  std::uint64_t wait_ms =
      req.has_param("wait_ms") ? to_u64(req.param("wait_ms")) : 0;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      Partition& part = parts_[p];
      if (offset < part.start || offset > part.next) {
        return error(Code::failed_precondition,
                     "offset " + std::to_string(offset) + " is out of range [" +
                         std::to_string(part.start) + ", " +
                         std::to_string(part.next) + "]");
      }
      if (offset < part.next || std::chrono::steady_clock::now() >= deadline) {
        std::string body;
        std::uint64_t next = offset;
        for (const std::string& b : part.batches) {
          auto info = records::read_batch_info(b);
          if (info->next_offset() <= offset) continue;
          if (!body.empty() && body.size() + b.size() > max_bytes) break;
          body += b;
          next = info->next_offset();
        }
        http::Response resp =
            http::Response::text(body, "application/vnd.nightwatch.batch");
        resp.headers.push_back(
            {"NW-High-Watermark", std::to_string(part.next)});
        resp.headers.push_back({"NW-Start-Offset", std::to_string(part.start)});
        resp.headers.push_back({"NW-Next-Offset", std::to_string(next)});
        return resp;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

http::Response FakeRecordsAgent::offsets(const http::Request& req) {
  if (req.matches[1] != topic_) return error(Code::not_found, "no topic");
  std::string at = req.param("at");
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json list = nlohmann::json::array();
  for (std::uint32_t p = 0; p < partitions_; ++p) {
    const Partition& part = parts_[p];
    std::uint64_t off = part.next;
    if (at == "earliest") {
      off = part.start;
    } else if (at != "latest") {
      std::int64_t t = std::stoll(at);
      for (const std::string& b : part.batches) {
        auto recs = records::decode_records(b);
        bool found = false;
        for (const records::Record& r : *recs) {
          if (r.offset >= part.start && r.timestamp_ms >= t) {
            off = r.offset;
            found = true;
            break;
          }
        }
        if (found) break;
      }
    }
    list.push_back({{"partition", p}, {"offset", off}});
  }
  return http::Response::json(
      nlohmann::json{{"topic", topic_}, {"partitions", list}}.dump());
}

http::Response FakeRecordsAgent::group(const http::Request& req) {
  const std::string& g = req.matches[1];
  std::lock_guard<std::mutex> lock(mu_);
  if (req.method == "GET") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [p, off] : committed_[g]) {
      list.push_back({{"topic", topic_}, {"partition", p}, {"offset", off}});
    }
    return http::Response::json(
        nlohmann::json{{"group", g}, {"offsets", list}}.dump());
  }
  nlohmann::json body = nlohmann::json::parse(req.body);
  const std::string verb = req.matches[2];
  nlohmann::json assignment = nlohmann::json::array();
  for (std::uint32_t p = 0; p < partitions_; ++p) {
    if (assigned_ && std::find(assigned_->begin(), assigned_->end(), p) ==
                         assigned_->end()) {
      continue;
    }
    assignment.push_back({{"topic", topic_}, {"partition", p}});
  }
  if (verb == "join") {
    ++joins_;
    std::string id = "m-" + std::to_string(next_member_++);
    members_[id] = g;
    return http::Response::json(nlohmann::json{
        {"member_id", id},
        {"generation", ++generation_[g]},
        {"assignment", assignment},
        {"heartbeat_interval_ms",
         50}}.dump());
  }
  std::string member = body.value("member_id", "");
  if (verb == "heartbeat") {
    if (!members_.count(member)) return error(Code::not_found, "no member");
    std::uint64_t seen = body.value("generation", std::uint64_t{0});
    return http::Response::json(nlohmann::json{
        {"generation", generation_[g]},
        {"assignment", assignment},
        {"rebalance",
         seen != generation_[g]}}.dump());
  }
  if (verb == "leave") {
    ++leaves_;
    members_.erase(member);
    return http::Response::text("", "application/json", 204);
  }
  // offsets
  if (!member.empty() &&
      (!members_.count(member) ||
       body.value("generation", std::uint64_t{0}) != generation_[g])) {
    return error(Code::conflict, "stale generation");
  }
  for (const auto& o : body["offsets"]) {
    committed_[g][o["partition"].get<std::uint32_t>()] =
        o["offset"].get<std::uint64_t>();
  }
  return http::Response::text("", "application/json", 204);
}

std::map<std::uint32_t, std::uint64_t> FakeRecordsAgent::committed(
    const std::string& g) {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_[g];
}

void FakeRecordsAgent::set_committed(const std::string& g, std::uint32_t p,
                                     std::uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  committed_[g][p] = offset;
}

int FakeRecordsAgent::joins() {
  std::lock_guard<std::mutex> lock(mu_);
  return joins_;
}

int FakeRecordsAgent::leaves() {
  std::lock_guard<std::mutex> lock(mu_);
  return leaves_;
}

void FakeRecordsAgent::forget_members() {
  std::lock_guard<std::mutex> lock(mu_);
  members_.clear();
}

}  // namespace nw::ctl::test

namespace nw::ctl::test {

void FakeRecordsAgent::rebalance(const std::string& group,
                                 std::vector<std::uint32_t> parts) {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_[group];
  assigned_ = std::move(parts);
}

}  // namespace nw::ctl::test
