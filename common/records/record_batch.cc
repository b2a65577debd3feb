#include "common/records/record_batch.h"

#include <algorithm>
#include <limits>

#include "common/base/assert.h"
#include "common/base/crc32c.h"

// The layout is documented in docs/formats/segment.md; keep the two in step.
namespace nw::records {
namespace {

constexpr std::string_view kDomain = "records";

Error bad(std::string reason) {
  return Error(Code::invalid_argument, "record batch: " + std::move(reason), {},
               kDomain);
}

// ---- fixed-width little-endian helpers ----

template <class U>
void put_le(std::string* out, std::size_t pos, U v) {
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    (*out)[pos + i] =
        static_cast<char>(static_cast<std::uint8_t>(v >> (8 * i)));
  }
}

template <class U>
U get_le(std::string_view s, std::size_t pos) {
  U v = 0;
  for (std::size_t i = sizeof(U); i-- > 0;) {
    v = static_cast<U>((v << 8) | static_cast<std::uint8_t>(s[pos + i]));
  }
  return v;
}

std::uint64_t zigzag_encode(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^
         static_cast<std::uint64_t>(v >> 63);
}

std::int64_t zigzag_decode(std::uint64_t v) {
  return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

// A length-prefixed optional string: zigzag(-1) for nullopt, else the
// length then the bytes.
void put_opt_bytes(std::string* out, const std::optional<std::string>& s) {
  if (!s) {
    put_zigzag(out, -1);
    return;
  }
  put_zigzag(out, static_cast<std::int64_t>(s->size()));
  out->append(*s);
}

// Reads what put_opt_bytes wrote. False on a malformed or short input; a
// length is checked against the remaining bytes before anything is copied.
bool get_opt_bytes(std::string_view* in, std::optional<std::string>* out) {
  std::string_view saved = *in;
  auto len = get_zigzag(in);
  if (!len || *len < -1 ||
      (*len >= 0 && static_cast<std::uint64_t>(*len) > in->size())) {
    *in = saved;
    return false;
  }
  if (*len == -1) {
    out->reset();
    return true;
  }
  const auto n = static_cast<std::size_t>(*len);
  out->emplace(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

bool get_bytes(std::string_view* in, std::string* out) {
  std::string_view saved = *in;
  auto len = get_varint(in);
  if (!len || *len > in->size()) {
    *in = saved;
    return false;
  }
  const auto n = static_cast<std::size_t>(*len);
  out->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

// The header with the given fields and a zero CRC and length; the body is
// appended by the caller, then finish() fills the length and the CRC.
std::string start_batch(std::uint16_t attributes, std::uint32_t count,
                        std::int64_t first_ts, std::int64_t max_ts,
                        std::int64_t producer_id, std::int32_t base_sequence) {
  std::string out(kHeaderSize, '\0');
  out[kMagicPos] = static_cast<char>(kMagic);
  put_le<std::uint16_t>(&out, kAttributesPos, attributes);
  put_le<std::uint32_t>(&out, kRecordCountPos, count);
  put_le<std::uint64_t>(&out, kFirstTimestampPos,
                        static_cast<std::uint64_t>(first_ts));
  put_le<std::uint64_t>(&out, kMaxTimestampPos,
                        static_cast<std::uint64_t>(max_ts));
  put_le<std::uint64_t>(&out, kProducerIdPos,
                        static_cast<std::uint64_t>(producer_id));
  put_le<std::uint32_t>(&out, kBaseSequencePos,
                        static_cast<std::uint32_t>(base_sequence));
  return out;
}

void finish_batch(std::string* batch) {
  // An oversized batch gets a length that read_batch_info always refuses,
  // rather than a truncated one that could alias a shorter batch.
  const std::uint32_t length =
      batch->size() > kMaxBatchBytes
          ? std::numeric_limits<std::uint32_t>::max()
          : static_cast<std::uint32_t>(batch->size() - kBatchLengthPos - 4);
  put_le<std::uint32_t>(batch, kBatchLengthPos, length);
  const std::uint32_t crc =
      crc32c(batch->data() + kAttributesPos, batch->size() - kAttributesPos);
  put_le<std::uint32_t>(batch, kCrcPos, crc);
}

// Parses one record from `*in` (the rest of the batch body).
bool parse_record(std::string_view* in, std::int64_t first_ts,
                  std::uint64_t base_offset, std::uint32_t expected_delta,
                  Record* r) {
  auto len = get_varint(in);
  if (!len || *len > in->size()) return false;
  std::string_view body = in->substr(0, static_cast<std::size_t>(*len));
  in->remove_prefix(static_cast<std::size_t>(*len));

  if (body.empty()) return false;
  r->priority = static_cast<std::uint8_t>(body[0]);
  body.remove_prefix(1);
  auto ts_delta = get_zigzag(&body);
  auto offset_delta = get_varint(&body);
  if (!ts_delta || !offset_delta || *offset_delta != expected_delta) {
    return false;
  }
  // Unsigned addition: a hostile delta wraps instead of overflowing.
  r->timestamp_ms =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(first_ts) +
                                static_cast<std::uint64_t>(*ts_delta));
  r->offset = base_offset + *offset_delta;
  if (!get_opt_bytes(&body, &r->key)) return false;
  if (!get_opt_bytes(&body, &r->value)) return false;
  auto headers = get_varint(&body);
  // Each header takes at least 2 bytes, so a count above that is a lie;
  // checking it first keeps reserve() bounded by the input.
  if (!headers || *headers > body.size() / 2) return false;
  r->headers.clear();
  r->headers.reserve(static_cast<std::size_t>(*headers));
  for (std::uint64_t i = 0; i < *headers; ++i) {
    Header h;
    if (!get_bytes(&body, &h.key)) return false;
    if (!get_opt_bytes(&body, &h.value)) return false;
    r->headers.push_back(std::move(h));
  }
  return body.empty();
}

}  // namespace

void put_varint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void put_zigzag(std::string* out, std::int64_t v) {
  put_varint(out, zigzag_encode(v));
}

std::optional<std::uint64_t> get_varint(std::string_view* in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 10 && i < in->size(); ++i) {
    const auto b = static_cast<std::uint8_t>((*in)[i]);
    // The 10th byte may only carry the top bit of a 64-bit value.
    if (i == 9 && b > 1) return std::nullopt;
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      in->remove_prefix(i + 1);
      return v;
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> get_zigzag(std::string_view* in) {
  auto v = get_varint(in);
  if (!v) return std::nullopt;
  return zigzag_decode(*v);
}

std::uint32_t partition_for_key(std::string_view key,
                                std::uint32_t partitions) {
  if (partitions == 0) return 0;
  return crc32c(key) % partitions;
}

std::string build_batch(const std::vector<Record>& records,
                        std::int64_t producer_id, std::int32_t base_sequence) {
  NW_ASSERT(!records.empty(), "build_batch: no records");
  const std::int64_t first_ts = records.front().timestamp_ms;
  std::int64_t max_ts = first_ts;
  for (const Record& r : records) max_ts = std::max(max_ts, r.timestamp_ms);
  std::string out = start_batch(0, static_cast<std::uint32_t>(records.size()),
                                first_ts, max_ts, producer_id, base_sequence);
  std::string body;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    body.clear();
    body.push_back(static_cast<char>(r.priority));
    put_zigzag(&body, static_cast<std::int64_t>(
                          static_cast<std::uint64_t>(r.timestamp_ms) -
                          static_cast<std::uint64_t>(first_ts)));
    put_varint(&body, i);
    put_opt_bytes(&body, r.key);
    put_opt_bytes(&body, r.value);
    put_varint(&body, r.headers.size());
    for (const Header& h : r.headers) {
      put_varint(&body, h.key.size());
      body.append(h.key);
      put_opt_bytes(&body, h.value);
    }
    put_varint(&out, body.size());
    out.append(body);
  }
  finish_batch(&out);
  return out;
}

std::string build_control_batch(ControlKind kind, std::string_view data) {
  std::string out = start_batch(kAttrControl, 0, -1, -1, -1, -1);
  out.push_back(static_cast<char>(kind));
  out.append(data);
  finish_batch(&out);
  return out;
}

Result<BatchInfo> read_batch_header(std::string_view bytes) {
  if (bytes.size() < kHeaderSize) {
    return bad("short buffer (" + std::to_string(bytes.size()) +
               " bytes, the header needs " + std::to_string(kHeaderSize) + ")");
  }
  if (static_cast<std::uint8_t>(bytes[kMagicPos]) != kMagic) {
    return bad("bad magic " +
               std::to_string(static_cast<std::uint8_t>(bytes[kMagicPos])));
  }
  const std::uint64_t size =
      std::uint64_t{get_le<std::uint32_t>(bytes, kBatchLengthPos)} +
      kBatchLengthPos + 4;
  if (size > kMaxBatchBytes) {
    return bad("length " + std::to_string(size) + " exceeds the limit of " +
               std::to_string(kMaxBatchBytes) + " bytes");
  }
  if (size < kHeaderSize) {
    return bad("length " + std::to_string(size) + " is shorter than a header");
  }
  if (size > bytes.size()) {
    return bad("length " + std::to_string(size) + " beyond the buffer of " +
               std::to_string(bytes.size()) + " bytes");
  }
  BatchInfo info;
  info.base_offset = get_le<std::uint64_t>(bytes, kBaseOffsetPos);
  info.raft_index = get_le<std::uint64_t>(bytes, kRaftIndexPos);
  info.raft_term = get_le<std::uint64_t>(bytes, kRaftTermPos);
  info.attributes = get_le<std::uint16_t>(bytes, kAttributesPos);
  info.record_count = get_le<std::uint32_t>(bytes, kRecordCountPos);
  info.first_timestamp_ms = static_cast<std::int64_t>(
      get_le<std::uint64_t>(bytes, kFirstTimestampPos));
  info.max_timestamp_ms =
      static_cast<std::int64_t>(get_le<std::uint64_t>(bytes, kMaxTimestampPos));
  info.producer_id =
      static_cast<std::int64_t>(get_le<std::uint64_t>(bytes, kProducerIdPos));
  info.base_sequence =
      static_cast<std::int32_t>(get_le<std::uint32_t>(bytes, kBaseSequencePos));
  info.size = static_cast<std::uint32_t>(size);
  return info;
}

Result<BatchInfo> read_batch_info(std::string_view bytes) {
  NW_ASSIGN_OR_RETURN(BatchInfo info, read_batch_header(bytes));
  const std::uint32_t crc = crc32c(bytes.data() + kAttributesPos,
                                   std::size_t{info.size} - kAttributesPos);
  if (crc != get_le<std::uint32_t>(bytes, kCrcPos)) {
    return bad("crc mismatch");
  }
  return info;
}

Result<std::vector<Record>> decode_records(std::string_view batch) {
  NW_ASSIGN_OR_RETURN(BatchInfo info, read_batch_info(batch));
  if (info.size != batch.size()) {
    return bad("trailing bytes after the batch (" +
               std::to_string(batch.size() - info.size) + ")");
  }
  if (info.control()) return bad("a control batch holds no records");
  if (info.record_count == 0) return bad("a data batch without records");
  std::string_view body = batch.substr(kHeaderSize);
  // A record takes at least 7 bytes (length, priority, two deltas, two
  // null lengths, a header count); a larger count cannot be honest, and
  // checking it keeps reserve() bounded by the input.
  if (info.record_count > body.size() / 7) {
    return bad("record count " + std::to_string(info.record_count) +
               " does not fit in " + std::to_string(body.size()) + " bytes");
  }
  std::vector<Record> out;
  out.reserve(info.record_count);
  for (std::uint32_t i = 0; i < info.record_count; ++i) {
    Record r;
    if (!parse_record(&body, info.first_timestamp_ms, info.base_offset, i,
                      &r)) {
      return bad("record " + std::to_string(i) + " does not parse");
    }
    out.push_back(std::move(r));
  }
  if (!body.empty()) {
    return bad("bytes left after " + std::to_string(info.record_count) +
               " records (the count does not match)");
  }
  return out;
}

Result<std::pair<ControlKind, std::string>> decode_control(
    std::string_view batch) {
  NW_ASSIGN_OR_RETURN(BatchInfo info, read_batch_info(batch));
  if (info.size != batch.size()) {
    return bad("trailing bytes after the batch (" +
               std::to_string(batch.size() - info.size) + ")");
  }
  if (!info.control()) return bad("not a control batch");
  if (info.record_count != 0) return bad("a control batch with records");
  if (batch.size() < kHeaderSize + 1) return bad("control batch without kind");
  const auto kind = static_cast<std::uint8_t>(batch[kHeaderSize]);
  if (kind > static_cast<std::uint8_t>(ControlKind::conf_change)) {
    return bad("unknown control kind " + std::to_string(kind));
  }
  return std::make_pair(static_cast<ControlKind>(kind),
                        std::string(batch.substr(kHeaderSize + 1)));
}

void stamp_batch(std::string* batch, std::uint64_t base_offset,
                 std::uint64_t raft_index, std::uint64_t raft_term) {
  NW_ASSERT(batch->size() >= kHeaderSize, "stamp_batch: short batch");
  put_le<std::uint64_t>(batch, kBaseOffsetPos, base_offset);
  put_le<std::uint64_t>(batch, kRaftIndexPos, raft_index);
  put_le<std::uint64_t>(batch, kRaftTermPos, raft_term);
}

Result<std::vector<std::string_view>> split_batches(std::string_view bytes) {
  std::vector<std::string_view> out;
  while (!bytes.empty()) {
    auto info = read_batch_info(bytes);
    if (!info.ok()) {
      return info.error().wrap("batch " + std::to_string(out.size()));
    }
    out.push_back(bytes.substr(0, info->size));
    bytes.remove_prefix(info->size);
  }
  return out;
}

}  // namespace nw::records
