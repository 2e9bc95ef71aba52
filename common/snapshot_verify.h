// Streaming verification of a snapshot document: one SAX pass over the text that checks the
// whole structure (the rules of DecodeSnapshot, docs/snapshot.md "Decoding errors" and
// "Decoding limits"), extracts the envelope and computes the content hash of the canonical form
// as it goes, without building a JSON tree or a copy of the text. Its memory is the nesting
// depth times the longest key plus the longest string, whatever the document's size, so the
// collector's peak memory per byte of snapshot in flight stays near 1x (docs/collector.md).
// DecodeSnapshot builds its tree in the same pass, so both accept and refuse exactly the same
// documents.
// Pure function; safe on any thread. Never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"
#include "common/status.h"

namespace tidemark {

// What the collector needs of a verified document.
struct VerifiedSnapshot {
  HostIdentity host;
  std::string collected_at;
  std::string agent_version;
  std::string content_hash;           // computed over the canonical form: "sha256:..."
  std::vector<std::string> sections;  // as listed, sorted
};

// Verifies `text` as a snapshot document. kInvalidArgument (kTooLarge for a limit) names the
// first problem, as DecodeSnapshot does; a content_hash in the document must match.
StatusOr<VerifiedSnapshot> VerifySnapshotText(std::string_view text);
// The same, building the document's tree into `*tree` in the same pass (DecodeSnapshot: one
// parse of the text, not two). `*tree` is complete only when the result is ok; it is refused as
// ParseJsonBounded(text, kSnapshotJsonLimits) would refuse it.
StatusOr<VerifiedSnapshot> VerifySnapshotText(std::string_view text, nlohmann::json* tree);

// Section names: 1..64 of [a-z0-9_], not an envelope key.
bool IsValidSectionName(std::string_view name);

}  // namespace tidemark
