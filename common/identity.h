// The rules for the fields that identify a host, a snapshot and its provenance, shared by the
// snapshot decoder (common/snapshot.h), the wire protocol (common/transport/protocol.h) and the
// PKI: what an agent may put there and how long it may be (docs/snapshot.md, "Decoding
// limits"). Pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace tidemark {

inline constexpr size_t kMaxHostIdBytes = 253;         // a DNS name's limit (RFC 1035)
inline constexpr size_t kMaxHostnameBytes = 253;       // ditto: host.hostname
inline constexpr size_t kMaxRootBytes = 4096;          // PATH_MAX: host.root
inline constexpr size_t kMaxTimestampBytes = 64;       // collected_at and the protocol's times
inline constexpr size_t kMaxAgentVersionBytes = 128;   // agent.version
inline constexpr size_t kMaxErrorPathBytes = 4096;     // a section error's path (PATH_MAX)
inline constexpr size_t kMaxErrorMessageBytes = 4096;  // a section error's message

// Host identity (certificate CN, snapshot host.id): 1..253 of [A-Za-z0-9._-], not starting with
// '.' or '-', no "..".
bool IsValidHostId(std::string_view id);

// RFC 3339 "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (T and Z in either case) with
// fields in range, at most kMaxTimestampBytes bytes.
bool IsRfc3339Timestamp(std::string_view text);

// "sha256:" followed by 64 lowercase hex digits.
bool IsContentHash(std::string_view text);

}  // namespace tidemark
