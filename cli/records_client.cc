#include "cli/records_client.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "cli/command_util.h"
#include "common/api/json.h"
#include "common/base/strings.h"
#include "common/http/client.h"
#include "common/http/url.h"

namespace nw::ctl {
namespace {

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, "cli");
}

std::optional<std::string> header_of(const http::HeaderList& headers,
                                     std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return v;
  }
  return std::nullopt;
}

Status header_u64(const http::HeaderList& headers, std::string_view name,
                  std::optional<std::uint64_t>& out) {
  auto v = header_of(headers, name);
  if (!v) return ok_status();
  std::string_view t = trim(*v);
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) {
    return invalid("fetch: header " + std::string(name) +
                   ": expected a number, got " + single_quote(*v));
  }
  out = n;
  return ok_status();
}

}  // namespace

Result<Acks> parse_acks(std::string_view text) {
  if (text == "all") return Acks::all;
  if (text == "leader") return Acks::leader;
  if (text == "none") return Acks::none;
  return usage(
      "--acks: expected all, leader or none, got " + single_quote(text),
      "all (the default) waits until a majority of the replicas has "
      "the batch; leader waits for the leader only; none does not "
      "wait");
}

std::string_view to_string(Acks acks) {
  switch (acks) {
    case Acks::all:
      return "all";
    case Acks::leader:
      return "leader";
    case Acks::none:
      return "none";
  }
  return "all";
}

Result<ProduceAck> produce_ack_from_json(std::string_view body) {
  const std::string what = "produce";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  ProduceAck a;
  std::uint64_t partition = 0, count = 0;
  api::ObjectReader r(j, what);
  r.optional("partition", partition);
  r.optional("count", count);
  r.optional("duplicate", a.duplicate);
  NW_RETURN_IF_ERROR(r.status());
  auto base = j.find("base_offset");
  if (base != j.end() && !base->is_null()) {
    if (!base->is_number_unsigned()) {
      return invalid(what +
                     ": field \"base_offset\": expected a non-negative "
                     "integer, got " +
                     base->type_name());
    }
    a.base_offset = base->get<std::uint64_t>();
  }
  a.partition = static_cast<std::uint32_t>(partition);
  a.count = static_cast<std::uint32_t>(count);
  return a;
}

Result<FetchResult> decode_fetch(std::string_view body,
                                 const http::HeaderList& headers,
                                 std::uint64_t offset) {
  FetchResult out;
  out.bytes = body.size();
  std::optional<std::uint64_t> hw, start, next;
  NW_RETURN_IF_ERROR(header_u64(headers, "NW-High-Watermark", hw));
  NW_RETURN_IF_ERROR(header_u64(headers, "NW-Start-Offset", start));
  NW_RETURN_IF_ERROR(header_u64(headers, "NW-Next-Offset", next));
  auto batches = records::split_batches(body);
  if (!batches.ok()) return batches.error().wrap("fetch");
  std::uint64_t after_last = offset;
  for (std::string_view batch : batches.value()) {
    auto info = records::read_batch_info(batch);
    if (!info.ok()) return info.error().wrap("fetch");
    after_last = std::max(after_last, info->next_offset());
    if (info->control() || info->next_offset() <= offset) continue;
    auto recs = records::decode_records(batch);
    if (!recs.ok()) return recs.error().wrap("fetch");
    for (records::Record& r : recs.value()) {
      if (r.offset >= offset) out.records.push_back(std::move(r));
    }
  }
  out.high_watermark = hw.value_or(0);
  out.start_offset = start.value_or(0);
  out.next_offset = next.value_or(after_last);
  // A header that points back would fetch the same records again forever.
  if (!out.records.empty()) {
    out.next_offset = std::max(out.next_offset, out.records.back().offset + 1);
  }
  return out;
}

Result<OffsetMap> offsets_from_json(std::string_view body) {
  const std::string what = "offsets";
  NW_ASSIGN_OR_RETURN(nlohmann::json j, api::parse_object(body, what));
  auto parts = j.find("partitions");
  if (parts == j.end() || !parts->is_array()) {
    return invalid(what + ": missing field \"partitions\" (an array)");
  }
  OffsetMap out;
  for (size_t i = 0; i < parts->size(); ++i) {
    const nlohmann::json& p = (*parts)[i];
    std::string w = what + ": partitions[" + std::to_string(i) + "]";
    if (!p.is_object()) return invalid(w + ": expected an object");
    std::uint64_t partition = 0, offset = 0;
    api::ObjectReader r(p, w);
    r.required("partition", partition);
    r.required("offset", offset);
    NW_RETURN_IF_ERROR(r.status());
    out[static_cast<std::uint32_t>(partition)] = offset;
  }
  return out;
}

std::string produce_path(std::string_view topic, std::uint32_t partition,
                         Acks acks) {
  return topic_path(topic) + "/partitions/" + std::to_string(partition) +
         "/records?acks=" + std::string(to_string(acks));
}

std::string fetch_path(std::string_view topic, std::uint32_t partition,
                       std::uint64_t offset, std::uint64_t max_bytes,
                       std::uint32_t wait_ms) {
  return topic_path(topic) + "/partitions/" + std::to_string(partition) +
         "/records?offset=" + std::to_string(offset) +
         "&max_bytes=" + std::to_string(max_bytes) +
         "&wait_ms=" + std::to_string(wait_ms);
}

Error with_topic_hint(std::string_view topic, Error e) {
  if (e.code == Code::not_found && e.hint.empty()) {
    e.hint =
        "list the topics with: nwctl topic list; create it with: nwctl "
        "topic create " +
        std::string(topic) + " --partitions 3 --replicas 3";
  }
  return e;
}

Result<TopicInfo> RecordsApi::topic(std::string_view name) {
  auto resp = client_->get(topic_path(name));
  if (!resp.ok()) return with_topic_hint(name, resp.error());
  return topic_from_json(resp.value().body);
}

RecordsApi::RecordsApi(http::Client* client, ClientFactory direct)
    : client_(client), direct_(std::move(direct)) {}
RecordsApi::~RecordsApi() = default;
RecordsApi::RecordsApi(RecordsApi&&) noexcept = default;
RecordsApi& RecordsApi::operator=(RecordsApi&&) noexcept = default;

http::Client* RecordsApi::route(std::string_view topic,
                                std::uint32_t partition) {
  if (!direct_) return client_;
  auto it = leaders_.find({std::string(topic), partition});
  if (it == leaders_.end()) return client_;
  auto c = leader_clients_.find(it->second);
  if (c == leader_clients_.end()) {
    Result<std::unique_ptr<http::Client>> made = direct_(it->second);
    if (!made.ok()) {
      leaders_.erase(it);
      return client_;
    }
    c = leader_clients_.emplace(it->second, std::move(made).value()).first;
  }
  return c->second.get();
}

void RecordsApi::learn(std::string_view topic, std::uint32_t partition,
                       const http::Response& resp) {
  if (!direct_) return;
  const std::string leader = resp.header("NW-Leader");
  if (leader.empty()) return;
  leaders_[{std::string(topic), partition}] = leader;
}

void RecordsApi::forget(std::string_view topic, std::uint32_t partition) {
  leaders_.erase({std::string(topic), partition});
}

Result<ProduceAck> RecordsApi::produce(std::string_view topic,
                                       std::uint32_t partition,
                                       const std::string& batch, Acks acks) {
  http::Client* c = route(topic, partition);
  Result<http::Response> resp =
      c->post(produce_path(topic, partition, acks), batch, kBatchContentType);
  if (!resp.ok()) {
    // The caller retries (with the same batch); the next try goes through
    // the --addr agent, which knows the new leader.
    if (c != client_) forget(topic, partition);
    return resp.error();
  }
  learn(topic, partition, *resp);
  if (acks == Acks::none) {
    // Offsets are not known yet; the body says nothing this needs.
    ProduceAck ack;
    ack.partition = partition;
    return ack;
  }
  NW_ASSIGN_OR_RETURN(ProduceAck ack, produce_ack_from_json(resp->body));
  ack.partition = partition;
  return ack;
}

Result<FetchResult> RecordsApi::fetch(std::string_view topic,
                                      std::uint32_t partition,
                                      std::uint64_t offset,
                                      std::uint64_t max_bytes,
                                      std::uint32_t wait_ms) {
  const std::string path =
      fetch_path(topic, partition, offset, max_bytes, wait_ms);
  http::Client* c = route(topic, partition);
  Result<http::Response> resp = c->get(path);
  if (!resp.ok() && c != client_ && resp.error().code == Code::unavailable) {
    forget(topic, partition);
    resp = client_->get(path);  // a read: safe to send again at once
  }
  if (!resp.ok()) return resp.error();
  learn(topic, partition, *resp);
  return decode_fetch(resp->body, resp->headers, offset);
}

Result<OffsetMap> RecordsApi::offsets(std::string_view topic,
                                      std::string_view at) {
  auto resp = client_->get(topic_path(topic) +
                           "/offsets?at=" + http::percent_encode(at));
  if (!resp.ok()) return with_topic_hint(topic, resp.error());
  return offsets_from_json(resp.value().body);
}

}  // namespace nw::ctl
