#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/topic.h"
#include "common/base/result.h"
#include "common/http/message.h"
#include "common/records/record_batch.h"

namespace nw::http {
class Client;
}

// The record endpoints of docs/api.md ("Topics") that produce, consume and
// bench call: produce one batch, fetch batches, look up offsets, read a
// topic. The decoding of their answers is separate (and pure) so the unit
// tests check it without an agent.
//
// Threads: RecordsApi uses one http::Client and belongs to the thread that
// owns that client; the free functions are pure.
namespace nw::ctl {

// The acks query parameter of a produce request.
enum class Acks { all, leader, none };
// "all" | "leader" | "none"; invalid_argument naming --acks otherwise.
Result<Acks> parse_acks(std::string_view text);
std::string_view to_string(Acks acks);

// The answer to a produce request. base_offset is nullopt for acks=none,
// which answers before the offsets are known.
struct ProduceAck {
  std::uint32_t partition = 0;
  std::optional<std::uint64_t> base_offset;
  std::uint32_t count = 0;
  bool duplicate = false;
};
Result<ProduceAck> produce_ack_from_json(std::string_view body);

// A decoded fetch answer: the data records at or after the requested
// offset (control batches and records before it are dropped), and the
// NW-* headers.
struct FetchResult {
  std::vector<records::Record> records;
  std::uint64_t high_watermark = 0;
  std::uint64_t start_offset = 0;
  // Where to fetch next: NW-Next-Offset, else after the last batch, else the
  // requested offset.
  std::uint64_t next_offset = 0;
  std::size_t bytes = 0;  // the body's size
};
// invalid_argument ("fetch: ...") when a batch does not decode or a header
// is not a number.
Result<FetchResult> decode_fetch(std::string_view body,
                                 const http::HeaderList& headers,
                                 std::uint64_t offset);

// Partition -> offset, from GET /v1/topics/{name}/offsets.
using OffsetMap = std::map<std::uint32_t, std::uint64_t>;
Result<OffsetMap> offsets_from_json(std::string_view body);

// "/v1/topics/T/partitions/P/records?acks=A" and the fetch path.
std::string produce_path(std::string_view topic, std::uint32_t partition,
                         Acks acks);
std::string fetch_path(std::string_view topic, std::uint32_t partition,
                       std::uint64_t offset, std::uint64_t max_bytes,
                       std::uint32_t wait_ms);

// The content type of produce and fetch bodies.
inline constexpr std::string_view kBatchContentType =
    "application/vnd.nightwatch.batch";

// The record calls over one client (not owned; must outlive this).
// Makes a client for one agent's API address ("HOST:PORT"), with the
// global flags' token, CA and timeouts.
using ClientFactory =
    std::function<Result<std::unique_ptr<http::Client>>(const std::string&)>;

// The topic API for one thread. With a ClientFactory it also routes each
// partition's produce and fetch requests straight to the partition leader:
// the leader names itself in the NW-Leader header of its answers (also of
// answers forwarded to it), and later requests for that partition go to
// that address instead of through the --addr agent. A leader that stops
// answering, or answers unavailable, is forgotten and the --addr agent is
// used again. Not thread-safe: one per worker thread, kept for its life.
class RecordsApi {
 public:
  explicit RecordsApi(http::Client* client, ClientFactory direct = {});
  ~RecordsApi();
  RecordsApi(RecordsApi&&) noexcept;
  RecordsApi& operator=(RecordsApi&&) noexcept;

  // GET /v1/topics/{name}. not_found gets a hint naming `nwctl topic
  // create`.
  Result<TopicInfo> topic(std::string_view name);
  // POST .../partitions/{p}/records with one batch. Errors as the client's
  // (unavailable and timeout are worth retrying with the same batch).
  Result<ProduceAck> produce(std::string_view topic, std::uint32_t partition,
                             const std::string& batch, Acks acks);
  // GET .../partitions/{p}/records.
  Result<FetchResult> fetch(std::string_view topic, std::uint32_t partition,
                            std::uint64_t offset, std::uint64_t max_bytes,
                            std::uint32_t wait_ms);
  // GET /v1/topics/{name}/offsets?at=... with at = "earliest", "latest" or
  // milliseconds since the epoch.
  Result<OffsetMap> offsets(std::string_view topic, std::string_view at);

 private:
  // The client for a partition's requests: its leader's, else client_.
  http::Client* route(std::string_view topic, std::uint32_t partition);
  // Remembers the leader an answer names (NW-Leader).
  void learn(std::string_view topic, std::uint32_t partition,
             const http::Response& resp);
  void forget(std::string_view topic, std::uint32_t partition);

  http::Client* client_;
  ClientFactory direct_;
  // (topic, partition) -> leader API address.
  std::map<std::pair<std::string, std::uint32_t>, std::string> leaders_;
  std::map<std::string, std::unique_ptr<http::Client>> leader_clients_;
};

// The agent's error for a topic, with a hint that says what to do when the
// topic does not exist (create it, or list the topics).
Error with_topic_hint(std::string_view topic, Error from_agent);

}  // namespace nw::ctl
