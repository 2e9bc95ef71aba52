// The agent -> collector wire protocol, tidemark/1 (docs/protocol.md): frame header encoding
// and decoding, the message payloads and the identity rules (host names, snapshot ids).
// Pure functions, no I/O: the collector's server and the agent's uplink both build on them, and
// a fuzzer can drive them directly.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::protocol {

inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 8;
inline constexpr uint16_t kDefaultPort = 7411;
inline constexpr uint32_t kDefaultMaxFrameBytes = 64u << 20;

enum class FrameType : uint8_t {
  kHello = 1,
  kWelcome = 2,
  kOffer = 3,
  kSnapshot = 4,
  kAck = 5,
  kSendBody = 6,
  kError = 7,
};
std::string_view FrameTypeName(FrameType type);

struct FrameHeader {
  FrameType type = FrameType::kHello;
  uint32_t length = 0;
};

std::array<uint8_t, kHeaderSize> EncodeHeader(FrameType type, uint32_t length);

// Checks magic, version, type and length <= max_frame_bytes. kInvalidArgument names what was
// wrong (malformed_frame); kTooLarge for a length over the limit (frame_too_large).
StatusOr<FrameHeader> DecodeHeader(const std::array<uint8_t, kHeaderSize>& bytes,
                                   uint32_t max_frame_bytes);

// A whole frame: header + payload.
std::string EncodeFrame(FrameType type, std::string_view payload);
std::string EncodeJsonFrame(FrameType type, const nlohmann::json& payload);

// Parses a JSON payload: one JSON object and nothing else. kInvalidArgument otherwise.
StatusOr<nlohmann::json> ParseJsonPayload(std::string_view payload);

// The `snapshot` payload: u32 meta length, meta JSON, the snapshot document.
struct SnapshotPayload {
  std::string snapshot_id;
  std::string content_hash;
  std::string_view body;  // points into the parsed payload
};
std::string EncodeSnapshotFrame(std::string_view snapshot_id, std::string_view content_hash,
                                std::string_view body);
// kInvalidArgument for a malformed payload; kRejected ("invalid snapshot_id") for a well-formed
// one whose snapshot id IsValidSnapshotId refuses.
StatusOr<SnapshotPayload> ParseSnapshotPayload(std::string_view payload);

// Messages with JSON payloads.
struct Hello {
  std::string agent_version;
  int protocol = kVersion;
  std::vector<std::string> capabilities;
  int64_t spool_dropped = 0;
  int64_t spool_rejected = 0;
};
struct Welcome {
  std::string collector_version;
  int protocol = kVersion;
  std::string host;
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
  std::vector<std::string> capabilities;
};
struct Offer {
  std::string snapshot_id;
  std::string content_hash;
  std::string collected_at;
};
struct Ack {
  std::string snapshot_id;
  std::string result;  // "stored", "seen", "duplicate"
  std::string received_at;
};
struct SendBody {
  std::string snapshot_id;
};
// Error codes of docs/protocol.md.
inline constexpr std::string_view kErrMalformedFrame = "malformed_frame";
inline constexpr std::string_view kErrFrameTooLarge = "frame_too_large";
inline constexpr std::string_view kErrProtocol = "protocol";
inline constexpr std::string_view kErrIdentityMismatch = "identity_mismatch";
inline constexpr std::string_view kErrBadSnapshot = "bad_snapshot";
inline constexpr std::string_view kErrStoreFailed = "store_failed";
inline constexpr std::string_view kErrBusy = "busy";
inline constexpr std::string_view kErrShuttingDown = "shutting_down";
struct Error {
  std::string code;
  std::string message;
  std::optional<std::string> snapshot_id;
  bool permanent = false;
};

nlohmann::json ToJson(const Hello& m);
nlohmann::json ToJson(const Welcome& m);
nlohmann::json ToJson(const Offer& m);
nlohmann::json ToJson(const Ack& m);
nlohmann::json ToJson(const SendBody& m);
nlohmann::json ToJson(const Error& m);
// Each rejects a missing or mistyped required field with kInvalidArgument naming it; unknown
// fields are ignored (later minor versions may add some). OfferFromJson: kRejected ("invalid
// snapshot_id") for an id IsValidSnapshotId refuses, checked before the other fields' values.
StatusOr<Hello> HelloFromJson(const nlohmann::json& j);
StatusOr<Welcome> WelcomeFromJson(const nlohmann::json& j);
StatusOr<Offer> OfferFromJson(const nlohmann::json& j);
StatusOr<Ack> AckFromJson(const nlohmann::json& j);
StatusOr<SendBody> SendBodyFromJson(const nlohmann::json& j);
StatusOr<Error> ErrorFromJson(const nlohmann::json& j);

// Host identity (certificate CN, snapshot host.id): 1..253 of [A-Za-z0-9._-], not starting with
// '.' or '-', no "..".
bool IsValidHostId(std::string_view id);

// Where an agent sends to: "HOST:PORT", "[V6]:PORT"; the port (1..65535) is required. Errors
// (kInvalidArgument) name --collector, the option (and configuration key) that takes it.
struct Endpoint {
  std::string host;
  std::string port;
};
StatusOr<Endpoint> ParseEndpoint(std::string_view text);
// Snapshot ids: 1..128 of [A-Za-z0-9._:-].
bool IsValidSnapshotId(std::string_view id);
// "<host>-<YYYYMMDDTHHMMSSZ>-<16 random hex digits>" (random from the OS CSPRNG).
std::string NewSnapshotId(std::string_view host, int64_t collected_at_seconds);

}  // namespace tidemark::protocol
