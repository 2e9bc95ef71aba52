// The snapshot model: one host's collected state at one moment, as a versioned JSON document.
//
// Layout (docs/snapshot.md documents every field):
//   {"schema": "tidemark.snapshot/1", "host": {...}, "collected_at": "...", "agent": {...},
//    "content_hash": "sha256:...", "sections": ["accounts", ...],
//    "accounts": {<data>, "status": "ok", "errors": [...], "duration_ms": 3}, ...}
// The canonical form covers the sections only (sorted keys, no volatile metadata such as
// duration_ms or times); its SHA-256 is the content hash by which later stages deduplicate,
// diff and sign snapshots. Plain values; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark {

inline constexpr std::string_view kSnapshotSchema = "tidemark.snapshot/1";
inline constexpr int kSnapshotMajorVersion = 1;

enum class SectionStatus { kOk, kPartial, kError, kNotApplicable };

std::string_view SectionStatusName(SectionStatus status);
std::optional<SectionStatus> ParseSectionStatus(std::string_view name);

// One problem met while collecting a section. `message` names what was wrong; it never quotes
// the content of secret files.
struct SectionError {
  std::string path;             // in-root path; empty when not about a file
  std::optional<int64_t> line;  // 1-based line, when known
  std::string message;

  bool operator==(const SectionError&) const = default;
};

// The result of one collector: its data (a JSON object whose keys are section-specific) plus the
// common envelope.
struct Section {
  nlohmann::json data = nlohmann::json::object();
  SectionStatus status = SectionStatus::kOk;
  std::vector<SectionError> errors;
  int64_t duration_ms = 0;

  // Records an error. The caller decides the status; see Finish().
  void AddError(std::string path, std::optional<int64_t> line, std::string message);
  // Sets status from the errors unless it was set to kError or kNotApplicable explicitly:
  // no errors -> kOk, otherwise kPartial.
  void Finish();
};

struct HostIdentity {
  std::string id;        // --host-id, else the root's /etc/hostname, else the live host name
  std::string hostname;  // the name the host calls itself (may equal id)
  std::string root;      // "/" for a live host, else the audited directory as given
};

struct Snapshot {
  HostIdentity host;
  std::string collected_at;  // RFC 3339 UTC, e.g. "2026-11-28T19:00:00Z"
  std::string agent_version;
  std::map<std::string, Section> sections;  // key: section name as in --only
};

// Returns the JSON document for `snapshot`, including its content hash.
nlohmann::json EncodeSnapshot(const Snapshot& snapshot);

// Returns the compact JSON text of the document, equal to EncodeSnapshot(snapshot).dump() but
// written without copying the section data (large hosts have large sections).
std::string SerializeSnapshot(const Snapshot& snapshot);

// Parses a document produced by EncodeSnapshot. Rejects malformed JSON, a missing or unknown
// schema, another major version, missing envelope fields and a content hash that does not match.
StatusOr<Snapshot> DecodeSnapshot(std::string_view text);

// Returns the JSON object of a section with its envelope (status, errors, duration_ms).
nlohmann::json EncodeSection(const Section& section);

// Returns the canonical text of the sections: a JSON object section name -> section object
// without duration_ms, keys sorted, no whitespace, UTF-8.
std::string CanonicalSections(const Snapshot& snapshot);

// Returns "sha256:" + the lowercase hex SHA-256 of CanonicalSections(snapshot).
std::string ContentHash(const Snapshot& snapshot);

// Returns the lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Returns the current time in RFC 3339 UTC with seconds precision.
std::string NowRfc3339();

}  // namespace tidemark
