// tidemark/1 framing and messages: docs/protocol.md is the specification.
#include "common/transport/protocol.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>

#include "common/identity.h"
#include "common/json_bounded.h"
#include "common/text.h"
#include "common/time.h"

namespace tidemark::protocol {
namespace {

constexpr uint8_t kMagic0 = 'T';
constexpr uint8_t kMagic1 = 'M';
constexpr uint8_t kMaxType = static_cast<uint8_t>(FrameType::kError);

Status Invalid(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}

// A valid message naming an id that IsValidSnapshotId refuses: the snapshot is refused for good.
Status InvalidSnapshotId() { return Status(StatusCode::kRejected, "invalid snapshot_id"); }

// Field readers: a missing or mistyped required field is an error naming it.
Status GetString(const nlohmann::json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return Invalid(std::string("field \"") + key + "\" missing or not a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

template <typename Int>
Status GetInt(const nlohmann::json& j, const char* key, Int* out, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    return required ? Invalid(std::string("field \"") + key + "\" missing") : Status::Ok();
  }
  if (!it->is_number_integer()) {
    return Invalid(std::string("field \"") + key + "\" is not an integer");
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) {
      return Invalid(std::string("field \"") + key + "\" is out of range");
    }
    *out = static_cast<Int>(v);
    return Status::Ok();
  }
  auto v = it->get<int64_t>();
  if (v < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
      (v > 0 &&
       static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<Int>::max()))) {
    return Invalid(std::string("field \"") + key + "\" is out of range");
  }
  *out = static_cast<Int>(v);
  return Status::Ok();
}

Status GetStrings(const nlohmann::json& j, const char* key, std::vector<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array()) return Invalid(std::string("field \"") + key + "\" is not an array");
  for (const auto& v : *it) {
    if (!v.is_string()) return Invalid(std::string("field \"") + key + "\" holds a non-string");
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

Status RequireObject(const nlohmann::json& j, std::string_view what) {
  if (!j.is_object()) return Invalid(std::string(what) + " payload is not a JSON object");
  return Status::Ok();
}

#define TM_RETURN_IF_ERROR(expr) \
  do {                           \
    Status s_ = (expr);          \
    if (!s_.ok()) return s_;     \
  } while (false)

// The edge of every decoder: the field readers above are checked, and this is the second line,
// so that nothing a peer sends (nor an allocation failure) can throw past a decoder.
template <typename T, typename F>
StatusOr<T> NoThrow(std::string_view what, F&& decode) {
  try {
    return decode();
  } catch (const std::exception& ex) {
    return Invalid(std::string(what) + ": cannot be decoded (" + ex.what() + ")");
  }
}

}  // namespace

std::string_view FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "hello";
    case FrameType::kWelcome:
      return "welcome";
    case FrameType::kOffer:
      return "offer";
    case FrameType::kSnapshot:
      return "snapshot";
    case FrameType::kAck:
      return "ack";
    case FrameType::kSendBody:
      return "send_body";
    case FrameType::kError:
      return "error";
  }
  return "unknown";
}

std::array<uint8_t, kHeaderSize> EncodeHeader(FrameType type, uint32_t length) {
  return {kMagic0,
          kMagic1,
          kVersion,
          static_cast<uint8_t>(type),
          static_cast<uint8_t>(length >> 24),
          static_cast<uint8_t>(length >> 16),
          static_cast<uint8_t>(length >> 8),
          static_cast<uint8_t>(length)};
}

StatusOr<FrameHeader> DecodeHeader(const std::array<uint8_t, kHeaderSize>& bytes,
                                   uint32_t max_frame_bytes) {
  if (bytes[0] != kMagic0 || bytes[1] != kMagic1) {
    return Invalid("not a tidemark frame (bad magic)");
  }
  if (bytes[2] != kVersion) {
    return Invalid("unsupported protocol version " + std::to_string(bytes[2]));
  }
  if (bytes[3] == 0 || bytes[3] > kMaxType) {
    return Invalid("unknown message type " + std::to_string(bytes[3]));
  }
  uint32_t length = (uint32_t{bytes[4]} << 24) | (uint32_t{bytes[5]} << 16) |
                    (uint32_t{bytes[6]} << 8) | uint32_t{bytes[7]};
  if (length > max_frame_bytes) {
    return Status(StatusCode::kTooLarge, "frame of " + std::to_string(length) +
                                             " bytes is over the limit of " +
                                             std::to_string(max_frame_bytes));
  }
  return FrameHeader{static_cast<FrameType>(bytes[3]), length};
}

std::string EncodeFrame(FrameType type, std::string_view payload) {
  auto header = EncodeHeader(type, static_cast<uint32_t>(payload.size()));
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  out.append(reinterpret_cast<const char*>(header.data()), header.size());
  out.append(payload);
  return out;
}

std::string EncodeJsonFrame(FrameType type, const nlohmann::json& payload) {
  return EncodeFrame(type, payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

StatusOr<nlohmann::json> ParseJsonPayload(std::string_view payload) {
  auto j = ParseJsonBounded(payload, kPayloadJsonLimits);
  if (!j.ok()) return Invalid("payload " + j.status().message());
  if (!j->is_object()) return Invalid("payload is not a JSON object");
  return j;
}

std::string EncodeSnapshotFrame(std::string_view snapshot_id, std::string_view content_hash,
                                std::string_view body) {
  nlohmann::json meta = {{"snapshot_id", snapshot_id}, {"content_hash", content_hash}};
  std::string meta_text = meta.dump();
  auto n = static_cast<uint32_t>(meta_text.size());
  std::string payload;
  payload.reserve(4 + meta_text.size() + body.size());
  payload.push_back(static_cast<char>(n >> 24));
  payload.push_back(static_cast<char>(n >> 16));
  payload.push_back(static_cast<char>(n >> 8));
  payload.push_back(static_cast<char>(n));
  payload.append(meta_text);
  payload.append(body);
  return EncodeFrame(FrameType::kSnapshot, payload);
}

StatusOr<SnapshotPayload> ParseSnapshotPayload(std::string_view payload) {
  return NoThrow<SnapshotPayload>("snapshot payload", [&]() -> StatusOr<SnapshotPayload> {
    if (payload.size() < 4) return Invalid("snapshot payload shorter than its meta length");
    auto b = [&](size_t i) { return uint32_t{static_cast<uint8_t>(payload[i])}; };
    uint32_t n = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
    if (n > payload.size() - 4) return Invalid("snapshot meta length exceeds the payload");
    auto meta = ParseJsonPayload(payload.substr(4, n));
    if (!meta.ok()) return Invalid("snapshot meta: " + meta.status().message());
    SnapshotPayload out;
    TM_RETURN_IF_ERROR(GetString(*meta, "snapshot_id", &out.snapshot_id));
    TM_RETURN_IF_ERROR(GetString(*meta, "content_hash", &out.content_hash));
    if (!IsValidSnapshotId(out.snapshot_id)) return InvalidSnapshotId();
    out.body = payload.substr(4 + n);
    if (out.body.empty()) return Invalid("snapshot payload has no document");
    return out;
  });
}

nlohmann::json ToJson(const Hello& m) {
  return {{"agent_version", m.agent_version},
          {"protocol", m.protocol},
          {"capabilities", m.capabilities},
          {"spool", {{"dropped", m.spool_dropped}, {"rejected", m.spool_rejected}}}};
}
nlohmann::json ToJson(const Welcome& m) {
  return {{"collector_version", m.collector_version},
          {"protocol", m.protocol},
          {"host", m.host},
          {"max_frame_bytes", m.max_frame_bytes},
          {"capabilities", m.capabilities}};
}
nlohmann::json ToJson(const Offer& m) {
  return {{"snapshot_id", m.snapshot_id},
          {"content_hash", m.content_hash},
          {"collected_at", m.collected_at}};
}
nlohmann::json ToJson(const Ack& m) {
  return {{"snapshot_id", m.snapshot_id}, {"result", m.result}, {"received_at", m.received_at}};
}
nlohmann::json ToJson(const SendBody& m) { return {{"snapshot_id", m.snapshot_id}}; }
nlohmann::json ToJson(const Error& m) {
  nlohmann::json j = {{"code", m.code}, {"message", m.message}, {"permanent", m.permanent}};
  if (m.snapshot_id) j["snapshot_id"] = *m.snapshot_id;
  return j;
}

StatusOr<Hello> HelloFromJson(const nlohmann::json& j) {
  return NoThrow<Hello>("hello", [&]() -> StatusOr<Hello> {
    TM_RETURN_IF_ERROR(RequireObject(j, "hello"));
    Hello m;
    TM_RETURN_IF_ERROR(GetString(j, "agent_version", &m.agent_version));
    TM_RETURN_IF_ERROR(GetInt(j, "protocol", &m.protocol, true));
    TM_RETURN_IF_ERROR(GetStrings(j, "capabilities", &m.capabilities));
    if (auto it = j.find("spool"); it != j.end()) {
      if (!it->is_object()) return Invalid("field \"spool\" is not an object");
      TM_RETURN_IF_ERROR(GetInt(*it, "dropped", &m.spool_dropped, false));
      TM_RETURN_IF_ERROR(GetInt(*it, "rejected", &m.spool_rejected, false));
      if (m.spool_dropped < 0 || m.spool_rejected < 0) return Invalid("negative spool counter");
    }
    return m;
  });
}
StatusOr<Welcome> WelcomeFromJson(const nlohmann::json& j) {
  return NoThrow<Welcome>("welcome", [&]() -> StatusOr<Welcome> {
    TM_RETURN_IF_ERROR(RequireObject(j, "welcome"));
    Welcome m;
    TM_RETURN_IF_ERROR(GetString(j, "collector_version", &m.collector_version));
    TM_RETURN_IF_ERROR(GetInt(j, "protocol", &m.protocol, true));
    TM_RETURN_IF_ERROR(GetString(j, "host", &m.host));
    TM_RETURN_IF_ERROR(GetInt(j, "max_frame_bytes", &m.max_frame_bytes, true));
    TM_RETURN_IF_ERROR(GetStrings(j, "capabilities", &m.capabilities));
    return m;
  });
}
StatusOr<Offer> OfferFromJson(const nlohmann::json& j) {
  return NoThrow<Offer>("offer", [&]() -> StatusOr<Offer> {
    TM_RETURN_IF_ERROR(RequireObject(j, "offer"));
    Offer m;
    TM_RETURN_IF_ERROR(GetString(j, "snapshot_id", &m.snapshot_id));
    TM_RETURN_IF_ERROR(GetString(j, "content_hash", &m.content_hash));
    TM_RETURN_IF_ERROR(GetString(j, "collected_at", &m.collected_at));
    if (!IsValidSnapshotId(m.snapshot_id)) return InvalidSnapshotId();
    // collected_at is recorded with a "seen" record and shown by `tidemarkctl history`.
    if (!IsRfc3339Timestamp(m.collected_at)) {
      return Invalid("field \"collected_at\" is not an RFC 3339 time of at most " +
                     std::to_string(kMaxTimestampBytes) + " bytes");
    }
    return m;
  });
}
StatusOr<Ack> AckFromJson(const nlohmann::json& j) {
  return NoThrow<Ack>("ack", [&]() -> StatusOr<Ack> {
    TM_RETURN_IF_ERROR(RequireObject(j, "ack"));
    Ack m;
    TM_RETURN_IF_ERROR(GetString(j, "snapshot_id", &m.snapshot_id));
    TM_RETURN_IF_ERROR(GetString(j, "result", &m.result));
    TM_RETURN_IF_ERROR(GetString(j, "received_at", &m.received_at));
    if (m.result != "stored" && m.result != "seen" && m.result != "duplicate") {
      return Invalid("unknown ack result \"" + m.result.substr(0, 32) + "\"");
    }
    return m;
  });
}
StatusOr<SendBody> SendBodyFromJson(const nlohmann::json& j) {
  return NoThrow<SendBody>("send_body", [&]() -> StatusOr<SendBody> {
    TM_RETURN_IF_ERROR(RequireObject(j, "send_body"));
    SendBody m;
    TM_RETURN_IF_ERROR(GetString(j, "snapshot_id", &m.snapshot_id));
    return m;
  });
}
StatusOr<Error> ErrorFromJson(const nlohmann::json& j) {
  return NoThrow<Error>("error", [&]() -> StatusOr<Error> {
    TM_RETURN_IF_ERROR(RequireObject(j, "error"));
    Error m;
    TM_RETURN_IF_ERROR(GetString(j, "code", &m.code));
    TM_RETURN_IF_ERROR(GetString(j, "message", &m.message));
    if (auto it = j.find("snapshot_id"); it != j.end()) {
      if (!it->is_string()) return Invalid("field \"snapshot_id\" is not a string");
      m.snapshot_id = it->get<std::string>();
    }
    if (auto it = j.find("permanent"); it != j.end()) {
      if (!it->is_boolean()) return Invalid("field \"permanent\" is not a boolean");
      m.permanent = it->get<bool>();
    }
    return m;
  });
}

bool IsValidHostId(std::string_view id) { return tidemark::IsValidHostId(id); }

bool IsValidSnapshotId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

StatusOr<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint e;
  size_t colon;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status(StatusCode::kInvalidArgument, "--collector: expected [IPV6]:PORT");
    }
    e.host = std::string(text.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return Status(StatusCode::kInvalidArgument, "--collector: expected HOST:PORT");
    e.host = std::string(text.substr(0, colon));
    if (e.host.find(':') != std::string::npos) {
      return Status(StatusCode::kInvalidArgument,
                    "--collector: write an IPv6 address as [ADDR]:PORT");
    }
  }
  e.port = std::string(text.substr(colon + 1));
  if (e.host.empty()) return Status(StatusCode::kInvalidArgument, "--collector: empty host");
  if (e.port.empty() || e.port.size() > 5 ||
      e.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(e.port) == 0 ||
      std::stoi(e.port) > 65535) {
    return Status(StatusCode::kInvalidArgument, "--collector: the port must be 1..65535");
  }
  return e;
}

std::string NewSnapshotId(std::string_view host, int64_t collected_at_seconds) {
  CivilTime t = CivilFromSeconds(collected_at_seconds);
  char when[48];
  std::snprintf(when, sizeof when, "%lld%02u%02uT%02u%02u%02uZ", static_cast<long long>(t.year),
                t.month, t.day, t.hour, t.minute, t.second);
  unsigned char rnd[8] = {};
  if (RAND_bytes(rnd, sizeof rnd) != 1) {
    // The CSPRNG failing is not host data; fall back to the clock so ids stay distinct.
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::memcpy(rnd, &ts.tv_nsec, sizeof ts.tv_nsec < sizeof rnd ? sizeof ts.tv_nsec : sizeof rnd);
  }
  // 94 + "-" + 16 + "-" + 16 = 128, the longest valid snapshot id (a host id may have 253).
  std::string out(host.substr(0, 94));
  out += '-';
  out += when;
  out += '-';
  out += HexEncode(std::string_view(reinterpret_cast<const char*>(rnd), sizeof rnd));
  return out;
}

}  // namespace tidemark::protocol
